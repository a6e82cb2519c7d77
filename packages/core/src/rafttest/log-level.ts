// log-level <DEBUG|INFO|WARN|ERROR|FATAL|NONE>: the level below which raft's
// log lines are dropped; NONE silences the handlers' output too.
import { TestFatalError, type TestData } from './datadriven.js';
import { EnvError } from './errors.js';
import type { InteractionEnv } from './interaction-env.js';
import { LEVEL_NAMES } from './redirect-logger.js';

export function handleLogLevel(env: InteractionEnv, d: TestData): void {
  const first = d.cmdArgs[0];
  if (!first) throw new TestFatalError(`${d.pos}: log-level: missing level`);
  logLevel(env, first.key);
}

export function logLevel(env: InteractionEnv, name: string): void {
  const i = LEVEL_NAMES.findIndex((s) => s.toLowerCase() === name.toLowerCase());
  if (i < 0) throw new EnvError(`log levels must be either of [${LEVEL_NAMES.join(' ')}]`);
  env.output.lvl = i;
}
