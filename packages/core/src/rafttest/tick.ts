// tick-election <id> / tick-heartbeat <id>: ticks the node as many times as
// its election (not randomized) or heartbeat interval.
import type { TestData } from './datadriven.js';
import { firstAsNodeIdx } from './args.js';
import type { InteractionEnv } from './interaction-env.js';

export function handleTickElection(env: InteractionEnv, d: TestData): void {
  const idx = firstAsNodeIdx(d);
  tick(env, idx, env.node(idx).config.electionTick);
}

export function handleTickHeartbeat(env: InteractionEnv, d: TestData): void {
  const idx = firstAsNodeIdx(d);
  tick(env, idx, env.node(idx).config.heartbeatTick);
}

export function tick(env: InteractionEnv, idx: number, num: number): void {
  const rn = env.node(idx).rawNode;
  for (let i = 0; i < num; i++) rn.tick();
}
