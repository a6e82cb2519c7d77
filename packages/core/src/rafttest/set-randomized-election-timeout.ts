// set-randomized-election-timeout <id> timeout=<ticks>: fixes the node's
// current randomized election timeout (until its next state change).
import { scanArgs, TestFatalError, type TestData } from './datadriven.js';
import { firstAsNodeIdx } from './args.js';
import type { InteractionEnv } from './interaction-env.js';

export function handleSetRandomizedElectionTimeout(env: InteractionEnv, d: TestData): void {
  const idx = firstAsNodeIdx(d);
  const timeout = scanArgs(d, 'timeout', 'int');
  if (timeout === 0) throw new TestFatalError(`${d.pos}: timeout must not be zero`);
  const rn = env.node(idx).rawNode;
  const set = env.options.setRandomizedElectionTimeout ?? ((node, t) => node.setRandomizedElectionTimeout(t));
  set(rn, timeout);
}
