// propose <id> <data>: proposes a normal entry whose payload is the word given.
import { TestFatalError, type TestData } from './datadriven.js';
import { firstAsNodeIdx } from './args.js';
import type { InteractionEnv } from './interaction-env.js';

const utf8 = new TextEncoder();

export function handlePropose(env: InteractionEnv, d: TestData): void {
  const idx = firstAsNodeIdx(d);
  const data = d.cmdArgs[1];
  if (d.cmdArgs.length !== 2 || !data || data.vals.length > 0) {
    throw new TestFatalError(`${d.pos}: expected exactly one key with no vals: ${d.line}`);
  }
  propose(env, idx, utf8.encode(data.key));
}

export function propose(env: InteractionEnv, idx: number, data: Uint8Array): void {
  env.node(idx).rawNode.propose(data);
}
