// report-unreachable <id> <peer>: tells the node that its last message to peer did not arrive.
import type { TestData } from './datadriven.js';
import { nodeIdxs } from './args.js';
import { EnvError } from './errors.js';
import type { InteractionEnv } from './interaction-env.js';

export function handleReportUnreachable(env: InteractionEnv, d: TestData): void {
  const sl = nodeIdxs(d);
  if (sl.length !== 2) {
    throw new EnvError('must specify exactly two node indexes: node on which to report, and reported node');
  }
  env.node(sl[0]!).rawNode.reportUnreachable(env.node(sl[1]!).config.id);
}
