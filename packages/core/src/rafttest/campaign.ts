// campaign <id>: the node starts an election (pre-vote first if configured).
import type { TestData } from './datadriven.js';
import { firstAsNodeIdx } from './args.js';
import type { InteractionEnv } from './interaction-env.js';

export function handleCampaign(env: InteractionEnv, d: TestData): void {
  campaign(env, firstAsNodeIdx(d));
}

export function campaign(env: InteractionEnv, idx: number): void {
  env.node(idx).rawNode.campaign();
}
