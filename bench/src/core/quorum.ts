// etcd-raft's BenchmarkMajorityConfig_CommittedIndex: the commit index of a
// majority config of `voters` voters whose acknowledged indexes are random.
import { MajorityConfig } from '@raftbus/core';
import { timeLoop } from '../harness.js';
import { seededRandom } from './setup.js';

export function committedIndex(voters: number): (n: number) => number {
  const c = new MajorityConfig();
  const acked = new Map<number, number>();
  const rand = seededRandom(voters);
  for (let id = 1; id <= voters; id++) {
    c.add(id);
    acked.set(id, Math.floor(rand() * Number.MAX_SAFE_INTEGER));
  }
  // etcd's mapAckIndexer: a map lookup per voter.
  const l = { ackedIndex: (id: number) => acked.get(id) };
  let sink = 0;
  return (n) => {
    const ns = timeLoop(n, () => {
      sink ^= c.committedIndex(l);
    });
    // Keep the result observable so the loop cannot be optimised away.
    if (sink === -1) console.log(sink);
    return ns;
  };
}
