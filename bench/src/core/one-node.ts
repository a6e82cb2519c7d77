// etcd-raft's BenchmarkOneNode: a single voter elects itself, a proposer
// proposes n entries while the application loop persists each Ready to
// MemoryStorage with a 1ms simulated fsync; done when commit reaches n+1 (the
// leader's empty entry plus n proposals). In Go the proposer is a goroutine
// that hands each proposal to the node's goroutine over a channel; here each
// proposal is its own event-loop task (a setImmediate callback), so
// proposals and the Ready loop interleave the same way: proposals keep
// arriving while a Ready is being persisted, and every proposal pays one
// scheduler round trip, as every Go Propose does.
import { ErrProposalDropped } from '@raftbus/core';
import { nowNs } from '../harness.js';
import { encoder, storageWithVoters, testRawNode } from './setup.js';

const payload = encoder.encode('foo');
const FSYNC_MS = 1;

export function oneNode(n: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const start = nowNs();
    const s = storageWithVoters([1]);
    const rn = testRawNode(1, s);
    rn.campaign();

    let proposed = 0;
    const propose = (): void => {
      try {
        rn.propose(payload);
        proposed++;
      } catch (e) {
        // Until the campaign's Ready is handled there is no leader; Go's
        // Propose blocks for that long, ours retries.
        if (!(e instanceof ErrProposalDropped)) return reject(e);
      }
      if (proposed < n) setImmediate(propose);
    };
    setImmediate(propose);

    const handleReady = (): void => {
      if (!rn.hasReady()) {
        setImmediate(handleReady);
        return;
      }
      const rd = rn.ready();
      s.append(rd.entries);
      setTimeout(() => {
        try {
          rn.advance(rd);
        } catch (e) {
          return reject(e);
        }
        if (rd.hardState !== undefined && rd.hardState.commit === n + 1) resolve(nowNs() - start);
        else handleReady();
      }, FSYNC_MS);
    };
    handleReady();
  });
}
