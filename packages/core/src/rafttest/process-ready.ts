// process-ready <id>...: handles one Ready per node: prints it, persists and
// applies it (or, with async storage writes, queues that work for the
// append/apply threads), queues its messages and advances.
import { MessageType } from '../raftpb/types.js';
import { defaultEntryFormatter, describeReady, messageTypeName } from '../util/describe.js';
import { isLocalMsgTarget } from '../util/messages.js';
import type { TestData } from './datadriven.js';
import { nodeIdxs } from './args.js';
import type { InteractionEnv } from './interaction-env.js';
import { processAppend } from './process-append-thread.js';
import { processApply } from './process-apply-thread.js';

export function handleProcessReady(env: InteractionEnv, d: TestData): void {
  const idxs = nodeIdxs(d);
  for (const idx of idxs) {
    if (idxs.length > 1) {
      env.output.write(`> ${idx + 1} handling Ready\n`);
      env.withIndent(() => processReady(env, idx));
    } else {
      processReady(env, idx);
    }
  }
}

export function processReady(env: InteractionEnv, idx: number): void {
  const n = env.node(idx);
  const async = n.config.asyncStorageWrites ?? false;
  const rd = n.rawNode.ready();
  env.output.write(describeReady(rd, defaultEntryFormatter));

  if (!async) {
    processAppend(n, rd.hardState, rd.entries, rd.snapshot);
    processApply(n, rd.committedEntries);
  }

  for (const m of rd.messages) {
    if (isLocalMsgTarget(m.to)) {
      // Raft only addresses the storage threads when asked to write asynchronously.
      if (!async) throw new Error('unexpected local msg target');
      switch (m.type) {
        case MessageType.MsgStorageAppend:
          n.appendWork.push(m);
          break;
        case MessageType.MsgStorageApply:
          n.applyWork.push(m);
          break;
        default:
          throw new Error(`unexpected message type ${messageTypeName(m.type)}`);
      }
    } else {
      env.messages.push(m);
    }
  }

  if (!async) n.rawNode.advance(rd);
}
