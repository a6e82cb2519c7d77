// The interaction test environment and the data-driven file runner, for
// replaying etcd-raft's scenario files (and our own) against RawNode.
import { runFile, type FileResult } from './datadriven.js';
import { InteractionEnv, type InteractionOpts } from './interaction-env.js';

export * from './datadriven.js';
export { InteractionEnv, type InteractionOpts, type Node } from './interaction-env.js';
export { COMMANDS } from './interaction-env-handler.js';
export { raftConfigStub, type ConfigStub } from './add-nodes.js';
export type { Recipient } from './deliver-msgs.js';
export { EnvError } from './errors.js';
export { RedirectLogger, LEVEL_NAMES } from './redirect-logger.js';
export { SnapOverrideStorage, type EnvStorage } from './storage.js';
export { handleQuorum } from './quorum-handler.js';
export { newConfChangeHandler } from './confchange-handler.js';

/** Replays an interaction scenario file in a fresh env. */
export function runInteractionFile(path: string, opts?: InteractionOpts): FileResult {
  const env = new InteractionEnv(opts);
  return runFile(path, (d) => env.handle(d));
}
