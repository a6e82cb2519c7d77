// add-nodes <n> [voters=(..)] [learners=(..)] [index=N] [content=..] [options]:
// creates n nodes with consecutive ids, bootstrapped from a snapshot at
// `index` when any of voters/learners/index/content is given.
import { noLimit, ReadOnlyOption, type Config } from '../config.js';
import { newSnapshot, type Snapshot } from '../raftpb/types.js';
import { RawNode } from '../raw-node.js';
import { MemoryStorage } from '../storage.js';
import { scanArg, type TestData } from './datadriven.js';
import { firstAsInt } from './args.js';
import { EnvError } from './errors.js';
import type { InteractionEnv } from './interaction-env.js';
import { SnapOverrideStorage } from './storage.js';

/** A node config without id and storage, which each node fills in. */
export type ConfigStub = Omit<Config, 'id' | 'storage'>;

/** etcd's raftConfigStub: fast elections and no size or inflight limits to speak of. */
export function raftConfigStub(): ConfigStub {
  return {
    electionTick: 3,
    heartbeatTick: 1,
    maxSizePerMsg: noLimit,
    maxInflightMsgs: 2 ** 31 - 1, // Go's math.MaxInt32, as etcd's stub
  };
}

const utf8 = new TextEncoder();

export function handleAddNodes(env: InteractionEnv, d: TestData): void {
  const n = firstAsInt(d);
  const snap = newSnapshot();
  const cfg = raftConfigStub();
  for (const arg of d.cmdArgs.slice(1)) {
    for (let i = 0; i < arg.vals.length; i++) {
      switch (arg.key) {
        case 'voters':
          snap.metadata.confState.voters.push(scanArg(arg, i, 'uint'));
          break;
        case 'learners':
          snap.metadata.confState.learners.push(scanArg(arg, i, 'uint'));
          break;
        case 'inflight':
          cfg.maxInflightMsgs = scanArg(arg, i, 'int');
          break;
        case 'index':
          snap.metadata.index = scanArg(arg, i, 'uint');
          cfg.applied = snap.metadata.index;
          break;
        case 'content':
          snap.data = utf8.encode(scanArg(arg, i, 'string'));
          break;
        case 'async-storage-writes':
          cfg.asyncStorageWrites = scanArg(arg, i, 'bool');
          break;
        case 'prevote':
          cfg.preVote = scanArg(arg, i, 'bool');
          break;
        case 'checkquorum':
          cfg.checkQuorum = scanArg(arg, i, 'bool');
          break;
        case 'max-committed-size-per-ready':
          cfg.maxCommittedSizePerReady = scanArg(arg, i, 'uint');
          break;
        case 'disable-conf-change-validation':
          cfg.disableConfChangeValidation = scanArg(arg, i, 'bool');
          break;
        case 'read-only':
          switch (arg.vals[i]) {
            case 'safe':
              cfg.readOnlyOption = ReadOnlyOption.ReadOnlySafe;
              break;
            case 'lease-based':
              cfg.readOnlyOption = ReadOnlyOption.ReadOnlyLeaseBased;
              break;
            default:
              throw new EnvError(`invalid read-only option ${JSON.stringify(arg.vals[i])}`);
          }
          break;
        case 'step-down-on-removal':
          cfg.stepDownOnRemoval = scanArg(arg, i, 'bool');
          break;
        // Beyond etcd's handler: the remaining Config knobs, for our own scenarios.
        case 'max-size-per-msg':
          cfg.maxSizePerMsg = scanArg(arg, i, 'uint');
          break;
        case 'max-inflight-bytes':
          cfg.maxInflightBytes = scanArg(arg, i, 'uint');
          break;
        case 'max-uncommitted-entries-size':
          cfg.maxUncommittedEntriesSize = scanArg(arg, i, 'uint');
          break;
        case 'disable-proposal-forwarding':
          cfg.disableProposalForwarding = scanArg(arg, i, 'bool');
          break;
      }
    }
  }
  addNodes(env, n, cfg, snap);
}

function isZeroSnapshot(s: Snapshot): boolean {
  const m = s.metadata;
  const cs = m.confState;
  return (
    s.data.length === 0 &&
    m.index === 0 &&
    m.term === 0 &&
    cs.voters.length === 0 &&
    cs.learners.length === 0 &&
    cs.votersOutgoing.length === 0 &&
    cs.learnersNext.length === 0 &&
    !cs.autoLeave
  );
}

/**
 * Adds n nodes with the next free ids, initialized from snap (which may be
 * empty: the nodes then start with no config) and configured from cfg.
 */
export function addNodes(env: InteractionEnv, n: number, cfg: ConfigStub, snap: Snapshot): void {
  const bootstrap = !isZeroSnapshot(snap);
  for (let i = 0; i < n; i++) {
    const id = 1 + env.nodes.length;
    const s = new SnapOverrideStorage(new MemoryStorage(), () => {
      // The most recent state-machine state is the snapshot to send.
      const h = env.node(id - 1).history;
      return h[h.length - 1]!;
    });
    if (bootstrap) {
      // MemoryStorage does not play well with a snapshot at index 1; no loss of generality.
      if (snap.metadata.index <= 1) throw new EnvError('index must be specified as > 1 due to bootstrap');
      snap.metadata.term = 1;
      s.applySnapshot(snap);
      const fi = s.firstIndex();
      const exp = snap.metadata.index + 1;
      if (fi !== exp) throw new EnvError(`failed to establish first index ${exp}; got ${fi}`);
    }
    const c: Config = { ...cfg, id, storage: s };
    if (env.options.onConfig) {
      env.options.onConfig(c);
      if (c.id !== id) throw new EnvError('OnConfig must not change the ID');
    }
    if (c.logger) throw new EnvError('OnConfig must not set Logger');
    c.logger = env.output;

    const rawNode = new RawNode(c);
    env.nodes.push({ rawNode, storage: s, config: c, appendWork: [], applyWork: [], history: [snap] });
  }
}
