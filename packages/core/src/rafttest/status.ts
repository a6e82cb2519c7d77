// status <id>: the progress the node tracks for each peer (leaders only; others print nothing).
import { progressMapToString } from '../tracker/progress.js';
import type { TestData } from './datadriven.js';
import { firstAsNodeIdx } from './args.js';
import type { InteractionEnv } from './interaction-env.js';

export function handleStatus(env: InteractionEnv, d: TestData): void {
  status(env, firstAsNodeIdx(d));
}

export function status(env: InteractionEnv, idx: number): void {
  env.output.write(progressMapToString(env.node(idx).rawNode.status().progress));
}
