// RawNode: the thread-unsafe, synchronous API to raft (etcd's rawnode.go).
// The application ticks it, steps messages in, and drains Ready.
import type { Config } from './config.js';
import type { ConfChange, ConfChangeV2, ConfState, Entry, HardState, Message, Snapshot } from './raftpb/types.js';
import type { ReadState, SoftState } from './raft.js';
import type { BasicStatus, Status } from './status.js';
import type { Progress } from './tracker/progress.js';

/**
 * Everything raft wants the application to do, in order: persist entries,
 * hard state and snapshot; send messages (some only after persisting, see
 * etcd's contract); apply committed entries; then call advance().
 */
export interface Ready {
  /** Set only when leader or role changed since the last Ready. */
  softState?: SoftState;
  /** Set only when term, vote or commit changed; persist before sending. */
  hardState?: HardState;
  readStates: ReadState[];
  /** Unstable entries to append to stable storage. */
  entries: Entry[];
  /** A snapshot to install in stable storage. */
  snapshot?: Snapshot;
  /** Committed entries to apply to the state machine. */
  committedEntries: Entry[];
  /** Outbound messages (with asyncStorageWrites, also local storage work). */
  messages: Message[];
  /** Whether entries and hard state must be fsynced before proceeding. */
  mustSync: boolean;
}

export enum SnapshotStatus {
  SnapshotFinish = 1,
  SnapshotFailure = 2,
}

export enum ProgressType {
  ProgressTypePeer = 0,
  ProgressTypeLearner = 1,
}

export class RawNode {
  constructor(_config: Config) {
    throw new Error('not yet implemented');
  }
  tick(): void {}
  tickQuiesced(): void {}
  campaign(): void {}
  propose(_data: Uint8Array): void {}
  proposeConfChange(_cc: ConfChange | ConfChangeV2): void {}
  applyConfChange(_cc: ConfChange | ConfChangeV2): ConfState {
    throw new Error('todo');
  }
  step(_m: Message): void {}
  ready(): Ready {
    throw new Error('todo');
  }
  hasReady(): boolean {
    return false;
  }
  advance(_rd?: Ready): void {}
  status(): Status {
    throw new Error('todo');
  }
  basicStatus(): BasicStatus {
    throw new Error('todo');
  }
  withProgress(_visitor: (id: number, typ: ProgressType, pr: Progress) => void): void {}
  reportUnreachable(_id: number): void {}
  reportSnapshot(_id: number, _status: SnapshotStatus): void {}
  transferLeader(_transferee: number): void {}
  forgetLeader(): void {}
  readIndex(_rctx: Uint8Array): void {}
  /** Test hook (etcd's rafttest plumbs the same): force the next election timeout. */
  setRandomizedElectionTimeout(_timeout: number): void {}
}
