// send-snapshot <from> <to>: queues (without delivering) a MsgSnap carrying
// the sender's latest state-machine snapshot.
import { MessageType, newMessage } from '../raftpb/types.js';
import { describeMessage } from '../util/describe.js';
import { TestFatalError, type TestData } from './datadriven.js';
import { nodeIdxs } from './args.js';
import { isReturnedError } from './errors.js';
import type { InteractionEnv } from './interaction-env.js';

export function handleSendSnapshot(env: InteractionEnv, d: TestData): void {
  const idxs = nodeIdxs(d);
  if (idxs.length !== 2) throw new TestFatalError(`${d.pos}: send-snapshot needs exactly two nodes, got ${idxs.length}`);
  try {
    sendSnapshot(env, idxs[0]!, idxs[1]!);
  } catch (e) {
    // etcd's handler drops this command's error.
    if (!isReturnedError(e)) throw e;
  }
}

export function sendSnapshot(env: InteractionEnv, fromIdx: number, toIdx: number): void {
  const from = env.node(fromIdx);
  const snap = from.storage.snapshot();
  const msg = newMessage({
    type: MessageType.MsgSnap,
    term: from.rawNode.basicStatus().hardState.term,
    from: fromIdx + 1,
    to: toIdx + 1,
    snapshot: snap,
  });
  env.messages.push(msg);
  env.output.write(describeMessage(msg));
}
