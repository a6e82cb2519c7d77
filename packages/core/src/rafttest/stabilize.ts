// stabilize [<id>...] [log-level=<level>]: handles Ready, delivers messages
// and runs the storage threads on the given nodes (default: all) until none
// of them has anything left to do.
import { scanArg, type TestData } from './datadriven.js';
import { nodeIdxs } from './args.js';
import { deliverMsgs, splitMsgs } from './deliver-msgs.js';
import { isReturnedError } from './errors.js';
import type { InteractionEnv, Node } from './interaction-env.js';
import { logLevel } from './log-level.js';
import { processAppendThread } from './process-append-thread.js';
import { processApplyThread } from './process-apply-thread.js';
import { processReady } from './process-ready.js';

export function handleStabilize(env: InteractionEnv, d: TestData): void {
  const idxs = nodeIdxs(d); // skips key=value args
  const old = env.output.lvl;
  try {
    for (const arg of d.cmdArgs) {
      for (let i = 0; i < arg.vals.length; i++) {
        // The level holds for this command only.
        if (arg.key === 'log-level') logLevel(env, scanArg(arg, i, 'string'));
      }
    }
    stabilize(env, ...idxs);
  } finally {
    env.output.lvl = old;
  }
}

export function stabilize(env: InteractionEnv, ...idxs: number[]): void {
  const nodes: Node[] = idxs.length > 0 ? idxs.map((i) => env.node(i)) : [...env.nodes];
  for (;;) {
    let done = true;
    for (const n of nodes) {
      if (n.rawNode.hasReady()) {
        const idx = n.config.id - 1;
        env.output.write(`> ${idx + 1} handling Ready\n`);
        env.withIndent(() => processReady(env, idx));
        done = false;
      }
    }
    for (const n of nodes) {
      const id = n.config.id;
      // Peek only, to decide on the header; deliverMsgs takes them.
      if (splitMsgs(env.messages, id, -1, false)[0].length > 0) {
        env.output.write(`> ${id} receiving messages\n`);
        env.withIndent(() => deliverMsgs(env, -1, { id }));
        done = false;
      }
    }
    for (const n of nodes) {
      const idx = n.config.id - 1;
      if (n.appendWork.length > 0) {
        env.output.write(`> ${idx + 1} processing append thread\n`);
        while (n.appendWork.length > 0) env.withIndent(() => processAppendThread(env, idx));
        done = false;
      }
    }
    for (const n of nodes) {
      const idx = n.config.id - 1;
      if (n.applyWork.length > 0) {
        env.output.write(`> ${idx + 1} processing apply thread\n`);
        while (n.applyWork.length > 0) {
          env.withIndent(() => {
            try {
              processApplyThread(env, idx);
            } catch (e) {
              // etcd's stabilize ignores apply errors.
              if (!isReturnedError(e)) throw e;
            }
          });
        }
        done = false;
      }
    }
    if (done) return;
  }
}
