// forget-leader <id>: the follower forgets its leader (etcd's env ignores the result).
import type { TestData } from './datadriven.js';
import { firstAsNodeIdx } from './args.js';
import { isReturnedError } from './errors.js';
import type { InteractionEnv } from './interaction-env.js';

export function handleForgetLeader(env: InteractionEnv, d: TestData): void {
  forgetLeader(env, firstAsNodeIdx(d));
}

export function forgetLeader(env: InteractionEnv, idx: number): void {
  try {
    env.node(idx).rawNode.forgetLeader();
  } catch (e) {
    if (!isReturnedError(e)) throw e;
  }
}
