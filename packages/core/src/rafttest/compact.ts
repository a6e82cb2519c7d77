// compact <id> <new-first-index>: truncates the node's stored log, then prints it.
import { parseUint, TestFatalError, type TestData } from './datadriven.js';
import { firstAsNodeIdx } from './args.js';
import type { InteractionEnv } from './interaction-env.js';
import { raftLog } from './raft-log.js';

export function handleCompact(env: InteractionEnv, d: TestData): void {
  const idx = firstAsNodeIdx(d);
  const arg = d.cmdArgs[1];
  if (!arg) throw new TestFatalError(`${d.pos}: compact: missing new first index`);
  compact(env, idx, parseUint(arg.key));
}

export function compact(env: InteractionEnv, idx: number, newFirstIndex: number): void {
  env.node(idx).storage.compact(newFirstIndex);
  raftLog(env, idx);
}
