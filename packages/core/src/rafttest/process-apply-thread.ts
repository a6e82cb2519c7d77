// process-apply-thread <id>...: with async storage writes, applies the oldest
// pending MsgStorageApply of each node, then queues its responses.
import { decodeConfChange, decodeConfChangeV2 } from '../raftpb/codec.js';
import { EntryType, newSnapshot, type ConfState, type Entry } from '../raftpb/types.js';
import { defaultEntryFormatter, describeMessage } from '../util/describe.js';
import type { TestData } from './datadriven.js';
import { nodeIdxs } from './args.js';
import type { InteractionEnv, Node } from './interaction-env.js';

export function handleProcessApplyThread(env: InteractionEnv, d: TestData): void {
  const idxs = nodeIdxs(d);
  for (const idx of idxs) {
    if (idxs.length > 1) {
      env.output.write(`> ${idx + 1} processing apply thread\n`);
      env.withIndent(() => processApplyThread(env, idx));
    } else {
      processApplyThread(env, idx);
    }
  }
}

export function processApplyThread(env: InteractionEnv, idx: number): void {
  const n = env.node(idx);
  const m = n.applyWork.shift();
  if (m === undefined) {
    env.output.write('no apply work to perform');
    return;
  }
  const resps = m.responses;
  env.output.write('Processing:\n');
  env.output.write(describeMessage({ ...m, responses: [] }, defaultEntryFormatter) + '\n');
  processApply(n, m.entries);

  env.output.write('Responses:\n');
  for (const r of resps) env.output.write(describeMessage(r, defaultEntryFormatter) + '\n');
  env.messages.push(...resps);
}

/**
 * Applies committed entries to the node's state machine, which appends each
 * entry's payload (a conf change's context) to its data, and applies conf
 * changes to raft. Every entry records a new state in the node's history.
 */
export function processApply(n: Node, ents: readonly Entry[]): void {
  for (const ent of ents) {
    let update: Uint8Array;
    let cs: ConfState | undefined;
    switch (ent.type) {
      case EntryType.EntryConfChange: {
        const cc = decodeConfChange(ent.data);
        update = cc.context;
        cs = n.rawNode.applyConfChange(cc);
        break;
      }
      case EntryType.EntryConfChangeV2: {
        const cc = decodeConfChangeV2(ent.data);
        cs = n.rawNode.applyConfChange(cc);
        update = cc.context;
        break;
      }
      default:
        update = ent.data;
    }
    const last = n.history[n.history.length - 1]!;
    const data = new Uint8Array(last.data.length + update.length);
    data.set(last.data);
    data.set(update, last.data.length);
    n.history.push(
      newSnapshot({
        data,
        metadata: { index: ent.index, term: ent.term, confState: cs ?? last.metadata.confState },
      }),
    );
  }
}
