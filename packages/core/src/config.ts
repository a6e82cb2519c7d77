// Configuration of a raft node, with etcd-raft's fields, defaults and
// validation. A bad config fails at construction with ErrInvalidConfig.
import { ErrInvalidConfig } from './errors.js';
import { getLogger, type Logger } from './logger.js';
import type { Storage } from './storage.js';
import { isLocalMsgTarget } from './util/messages.js';

/** No limit, for the size and count limits below. */
export const noLimit = Number.POSITIVE_INFINITY;

export enum ReadOnlyOption {
  /** Linearizable reads confirmed by a quorum round trip (the default). */
  ReadOnlySafe = 0,
  /** Reads served on the leader's lease; unsafe under unbounded clock drift. Needs checkQuorum. */
  ReadOnlyLeaseBased = 1,
}

export interface Config {
  /** This node's id; never 0. */
  id: number;
  /** Ticks a follower waits without hearing a leader before campaigning. */
  electionTick: number;
  /** Ticks between a leader's heartbeats; must be below electionTick. */
  heartbeatTick: number;
  storage: Storage;
  /** The last applied index, when restarting; entries up to it are not handed out again. */
  applied?: number;
  /** Hand storage work out as MsgStorageAppend/MsgStorageApply messages instead of through Ready/advance. */
  asyncStorageWrites?: boolean;
  /** Max encoded bytes of entries in one append message; 0 means one entry per message. */
  maxSizePerMsg?: number;
  /** Max encoded bytes of committed entries in one Ready; 0 means maxSizePerMsg (or one entry at a time if that is 0 too). */
  maxCommittedSizePerReady?: number;
  /** Max payload bytes of uncommitted entries on a leader; 0 means no limit. */
  maxUncommittedEntriesSize?: number;
  /** Max in-flight append messages per follower while replicating; must be > 0. */
  maxInflightMsgs: number;
  /** Max in-flight payload bytes per follower; 0 means no limit. */
  maxInflightBytes?: number;
  /** A leader steps down when it has not heard from a quorum within an election timeout. */
  checkQuorum?: boolean;
  /** Run a pre-election round so a partitioned node cannot disrupt the cluster on rejoin. */
  preVote?: boolean;
  readOnlyOption?: ReadOnlyOption;
  logger?: Logger;
  /** Followers drop proposals instead of forwarding them to the leader. */
  disableProposalForwarding?: boolean;
  /** Skip the leader's checks on proposed conf changes (the application validates). */
  disableConfChangeValidation?: boolean;
  /** A leader removed from the config steps down instead of staying leader until transferred. */
  stepDownOnRemoval?: boolean;
  /**
   * Returns a uniform integer in [0, n); randomizes election timeouts.
   * Inject a seeded source for deterministic simulations.
   */
  randomInt?: (n: number) => number;
}

/** A Config with every default filled in, as raft uses it. */
export interface ValidConfig extends Required<Config> {}

export function defaultRandomInt(n: number): number {
  return Math.floor(Math.random() * n);
}

function checkCount(name: string, v: number | undefined): void {
  if (v !== undefined && (typeof v !== 'number' || !(v >= 0) || (Number.isFinite(v) && !Number.isSafeInteger(v)))) {
    throw new ErrInvalidConfig(`${name} must be a non-negative integer, got ${v}`);
  }
}

export function validateConfig(c: Config): ValidConfig {
  if (!Number.isSafeInteger(c.id) || c.id < 0) throw new ErrInvalidConfig(`invalid id ${c.id}`);
  if (c.id === 0) throw new ErrInvalidConfig('cannot use none as id');
  if (isLocalMsgTarget(c.id)) throw new ErrInvalidConfig('cannot use local target as id');
  if (!Number.isSafeInteger(c.heartbeatTick) || c.heartbeatTick <= 0) {
    throw new ErrInvalidConfig('heartbeat tick must be greater than 0');
  }
  if (!Number.isSafeInteger(c.electionTick) || c.electionTick <= c.heartbeatTick) {
    throw new ErrInvalidConfig('election tick must be greater than heartbeat tick');
  }
  if (!c.storage) throw new ErrInvalidConfig('storage cannot be nil');
  for (const k of ['applied', 'maxSizePerMsg', 'maxCommittedSizePerReady', 'maxUncommittedEntriesSize', 'maxInflightBytes'] as const) {
    checkCount(k, c[k]);
  }
  const maxSizePerMsg = c.maxSizePerMsg ?? 0;
  const maxUncommittedEntriesSize = c.maxUncommittedEntriesSize || noLimit;
  // Defaults to maxSizePerMsg because they were once the same parameter.
  // When both are 0, etcd-raft panics at the first committed entry
  // ("applying entry size ... not positive"); we read 0 as maxSizePerMsg's
  // "one entry at a time" instead, so the minimal config works.
  const maxCommittedSizePerReady = c.maxCommittedSizePerReady || maxSizePerMsg || 1;
  if (!(c.maxInflightMsgs > 0)) throw new ErrInvalidConfig('max inflight messages must be greater than 0');
  // An integer: it sizes the ring of in-flight appends.
  if (!Number.isSafeInteger(c.maxInflightMsgs)) throw new ErrInvalidConfig(`max inflight messages must be an integer, got ${c.maxInflightMsgs}`);
  let maxInflightBytes = c.maxInflightBytes ?? 0;
  if (maxInflightBytes === 0) maxInflightBytes = noLimit;
  else if (maxInflightBytes < maxSizePerMsg) throw new ErrInvalidConfig('max inflight bytes must be >= max message size');
  const readOnlyOption = c.readOnlyOption ?? ReadOnlyOption.ReadOnlySafe;
  if (readOnlyOption !== ReadOnlyOption.ReadOnlySafe && readOnlyOption !== ReadOnlyOption.ReadOnlyLeaseBased) {
    throw new ErrInvalidConfig(`unknown readOnlyOption ${String(readOnlyOption)}`);
  }
  if (readOnlyOption === ReadOnlyOption.ReadOnlyLeaseBased && !c.checkQuorum) {
    throw new ErrInvalidConfig('CheckQuorum must be enabled when ReadOnlyOption is ReadOnlyLeaseBased');
  }
  // Checked here rather than failing later, at the first election or log line.
  if (c.randomInt !== undefined && typeof c.randomInt !== 'function') throw new ErrInvalidConfig('randomInt must be a function');
  if (c.logger !== undefined && (typeof c.logger !== 'object' || c.logger === null || typeof c.logger.info !== 'function')) {
    throw new ErrInvalidConfig('logger must be a Logger');
  }
  return {
    id: c.id,
    electionTick: c.electionTick,
    heartbeatTick: c.heartbeatTick,
    storage: c.storage,
    applied: c.applied ?? 0,
    asyncStorageWrites: c.asyncStorageWrites ?? false,
    maxSizePerMsg,
    maxCommittedSizePerReady,
    maxUncommittedEntriesSize,
    maxInflightMsgs: c.maxInflightMsgs,
    maxInflightBytes,
    checkQuorum: c.checkQuorum ?? false,
    preVote: c.preVote ?? false,
    readOnlyOption,
    logger: c.logger ?? getLogger(),
    disableProposalForwarding: c.disableProposalForwarding ?? false,
    disableConfChangeValidation: c.disableConfChangeValidation ?? false,
    stepDownOnRemoval: c.stepDownOnRemoval ?? false,
    randomInt: c.randomInt ?? defaultRandomInt,
  };
}
