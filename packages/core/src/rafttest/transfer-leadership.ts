// transfer-leadership from=<id> to=<id>: asks the leader to hand leadership over.
import { scanArgs, TestFatalError, type TestData } from './datadriven.js';
import type { InteractionEnv } from './interaction-env.js';

export function handleTransferLeadership(env: InteractionEnv, d: TestData): void {
  const from = scanArgs(d, 'from', 'uint');
  const to = scanArgs(d, 'to', 'uint');
  if (from === 0 || from > env.nodes.length) throw new TestFatalError(`${d.pos}: expected valid "from" argument`);
  if (to === 0 || to > env.nodes.length) throw new TestFatalError(`${d.pos}: expected valid "to" argument`);
  transferLeadership(env, from, to);
}

/** Takes node ids (1-based). */
export function transferLeadership(env: InteractionEnv, from: number, to: number): void {
  env.node(from - 1).rawNode.transferLeader(to);
}
