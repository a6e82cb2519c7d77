// process-append-thread <id>...: with async storage writes, performs the
// oldest pending MsgStorageAppend of each node, then queues its responses.
import {
  isEmptyHardState,
  isEmptySnap,
  newHardState,
  newSnapshot,
  type Entry,
  type HardState,
  type Snapshot,
} from '../raftpb/types.js';
import { defaultEntryFormatter, describeMessage } from '../util/describe.js';
import type { TestData } from './datadriven.js';
import { nodeIdxs } from './args.js';
import { EnvError } from './errors.js';
import type { InteractionEnv, Node } from './interaction-env.js';

export function handleProcessAppendThread(env: InteractionEnv, d: TestData): void {
  const idxs = nodeIdxs(d);
  for (const idx of idxs) {
    if (idxs.length > 1) {
      env.output.write(`> ${idx + 1} processing append thread\n`);
      env.withIndent(() => processAppendThread(env, idx));
    } else {
      processAppendThread(env, idx);
    }
  }
}

export function processAppendThread(env: InteractionEnv, idx: number): void {
  const n = env.node(idx);
  const m = n.appendWork.shift();
  if (m === undefined) {
    env.output.write('no append work to perform');
    return;
  }
  const resps = m.responses;
  env.output.write('Processing:\n');
  // Shown without the responses, which are listed after the work is done.
  env.output.write(describeMessage({ ...m, responses: [] }, defaultEntryFormatter) + '\n');
  const st = newHardState({ term: m.term, vote: m.vote, commit: m.commit });
  processAppend(n, st, m.entries, m.snapshot ? cloneSnapshot(m.snapshot) : undefined);

  env.output.write('Responses:\n');
  for (const r of resps) env.output.write(describeMessage(r, defaultEntryFormatter) + '\n');
  env.messages.push(...resps);
}

/** Persists hard state, then either a snapshot or entries (never both at once). */
export function processAppend(n: Node, st: HardState | undefined, ents: Entry[], snap: Snapshot | undefined): void {
  // The order of these writes is not necessarily crash-safe (etcd-io/etcd#10861); it is etcd's.
  const s = n.storage;
  if (st && !isEmptyHardState(st)) s.setHardState(st);
  if (!isEmptySnap(snap)) {
    if (ents.length > 0) throw new EnvError("can't apply snapshot and entries at the same time");
    s.applySnapshot(snap!);
    return;
  }
  s.append(ents);
}

function cloneSnapshot(s: Snapshot): Snapshot {
  const cs = s.metadata.confState;
  return newSnapshot({
    data: s.data.slice(),
    metadata: {
      index: s.metadata.index,
      term: s.metadata.term,
      confState: {
        voters: [...cs.voters],
        learners: [...cs.learners],
        votersOutgoing: [...cs.votersOutgoing],
        learnersNext: [...cs.learnersNext],
        autoLeave: cs.autoLeave,
      },
    },
  });
}
