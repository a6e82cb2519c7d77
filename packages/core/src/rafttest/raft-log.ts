// raft-log <id>: prints the node's stored (stable) log.
import { noLimit } from '../config.js';
import { defaultEntryFormatter, describeEntries } from '../util/describe.js';
import type { TestData } from './datadriven.js';
import { firstAsNodeIdx } from './args.js';
import type { InteractionEnv } from './interaction-env.js';

export function handleRaftLog(env: InteractionEnv, d: TestData): void {
  raftLog(env, firstAsNodeIdx(d));
}

export function raftLog(env: InteractionEnv, idx: number): void {
  const s = env.node(idx).storage;
  const fi = s.firstIndex();
  const li = s.lastIndex();
  if (li < fi) {
    // What MemoryStorage reports for an empty log.
    env.output.write(`log is empty: first index=${fi}, last index=${li}`);
    return;
  }
  env.output.write(describeEntries(s.entries(fi, li + 1, noLimit), defaultEntryFormatter));
}
