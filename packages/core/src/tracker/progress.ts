// A follower's progress in the leader's view (etcd's tracker.Progress). It is
// a small state machine whose transitions are driven from raft.ts.
import { RaftPanic } from '../errors.js';
import { Inflights } from './inflights.js';
import { ProgressStateType } from './state.js';

/** Fields a Progress starts with; omitted ones take etcd's zero values. */
export interface ProgressInit {
  match?: number;
  next?: number;
  sentCommit?: number;
  state?: ProgressStateType;
  pendingSnapshot?: number;
  recentActive?: boolean;
  msgAppFlowPaused?: boolean;
  inflights: Inflights;
  isLearner?: boolean;
}

export class Progress {
  /** The follower's log is known to match the leader's up to here. */
  match: number;
  /**
   * The next index to send. Entries in (match, next) are in flight.
   * Invariant: 0 <= match < next; in StateSnapshot, next == pendingSnapshot+1.
   */
  next: number;
  /**
   * The highest commit index in flight to the follower. Mostly monotonic, but
   * regresses on becoming a probe or on a rejection; in StateSnapshot it is
   * pendingSnapshot. Set through sentCommit(), as in etcd.
   */
  private _sentCommit: number;
  state: ProgressStateType;
  /**
   * In StateSnapshot, the leader's last index when it decided a snapshot was
   * needed (the index of the MsgSnap it sent).
   */
  pendingSnapshot: number;
  /** Heard from recently; reset after an election timeout. Always true for the leader. */
  recentActive: boolean;
  /**
   * The MsgApp flow is throttled (StateProbe, or StateReplicate with full
   * inflights); cleared by a heartbeat response. See isPaused().
   */
  msgAppFlowPaused: boolean;
  /** The sliding window of in-flight MsgApps. */
  inflights: Inflights;
  isLearner: boolean;

  constructor(init: ProgressInit) {
    this.match = init.match ?? 0;
    this.next = init.next ?? 0;
    this._sentCommit = init.sentCommit ?? 0;
    this.state = init.state ?? ProgressStateType.StateProbe;
    this.pendingSnapshot = init.pendingSnapshot ?? 0;
    this.recentActive = init.recentActive ?? false;
    this.msgAppFlowPaused = init.msgAppFlowPaused ?? false;
    this.inflights = init.inflights;
    this.isLearner = init.isLearner ?? false;
  }

  /** A copy that shares no memory with this one (inflights included). */
  clone(): Progress {
    return new Progress({
      match: this.match,
      next: this.next,
      sentCommit: this._sentCommit,
      state: this.state,
      pendingSnapshot: this.pendingSnapshot,
      recentActive: this.recentActive,
      msgAppFlowPaused: this.msgAppFlowPaused,
      inflights: this.inflights.clone(),
      isLearner: this.isLearner,
    });
  }

  /**
   * What a new term does to every progress (raft.go's reset() overwrites each
   * with a fresh Progress): back to zero values and empty inflights, keeping
   * only isLearner, with the given next and match.
   */
  resetForNewTerm(next: number, match: number): void {
    this.match = match;
    this.next = next;
    this._sentCommit = 0;
    this.state = ProgressStateType.StateProbe;
    this.pendingSnapshot = 0;
    this.recentActive = false;
    this.msgAppFlowPaused = false;
    this.inflights = new Inflights(this.inflights.size, this.inflights.maxBytes);
  }

  /** Moves to `state`, clearing the pause flag, pending snapshot and inflights. */
  resetState(state: ProgressStateType): void {
    this.msgAppFlowPaused = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflights.reset();
  }

  /**
   * Moves to StateProbe with next = match+1 or, coming from StateSnapshot,
   * past the pending snapshot if that is further: the snapshot is known to
   * have been delivered.
   */
  becomeProbe(): void {
    if (this.state === ProgressStateType.StateSnapshot) {
      const pendingSnapshot = this.pendingSnapshot;
      this.resetState(ProgressStateType.StateProbe);
      this.next = Math.max(this.match + 1, pendingSnapshot + 1);
    } else {
      this.resetState(ProgressStateType.StateProbe);
      this.next = this.match + 1;
    }
    this._sentCommit = Math.min(this._sentCommit, this.next - 1);
  }

  /** Moves to StateReplicate with next = match+1. */
  becomeReplicate(): void {
    this.resetState(ProgressStateType.StateReplicate);
    this.next = this.match + 1;
  }

  /** Moves to StateSnapshot, waiting for the snapshot at `snapshoti`. */
  becomeSnapshot(snapshoti: number): void {
    this.resetState(ProgressStateType.StateSnapshot);
    this.pendingSnapshot = snapshoti;
    this.next = snapshoti + 1;
    this._sentCommit = snapshoti;
  }

  /**
   * Accounts for a MsgApp carrying `entries` entries (`bytes` payload bytes)
   * appended at next. Only valid in StateProbe and StateReplicate.
   */
  sentEntries(entries: number, bytes: number): void {
    switch (this.state) {
      case ProgressStateType.StateReplicate:
        if (entries > 0) {
          this.next += entries;
          this.inflights.add(this.next - 1, bytes);
        }
        // A message that fills the window (or found it full) counts as a
        // probe, pausing the flow.
        this.msgAppFlowPaused = this.inflights.full();
        break;
      case ProgressStateType.StateProbe:
        // etcd only pauses on non-empty probes (kept for parity).
        if (entries > 0) this.msgAppFlowPaused = true;
        break;
      default:
        throw new RaftPanic(`sending append in unhandled state ${ProgressStateType[this.state]}`);
    }
  }

  /**
   * Whether sending commit index `index` may advance the follower's commit:
   * only while the commit we already sent stops short of next-1.
   */
  canBumpCommit(index: number): boolean {
    return index > this._sentCommit && this._sentCommit < this.next - 1;
  }

  /** Records the commit index just sent to the follower. */
  sentCommit(commit: number): void {
    this._sentCommit = commit;
  }

  /**
   * Handles an MsgAppResp acking index n. Returns false if the ack is stale
   * (n <= match); otherwise advances match (and next if needed) and unpauses.
   */
  maybeUpdate(n: number): boolean {
    if (n <= this.match) return false;
    this.match = n;
    this.next = Math.max(this.next, n + 1); // invariant: match < next
    this.msgAppFlowPaused = false;
    return true;
  }

  /**
   * Handles a rejection of the MsgApp at index `rejected`, with the follower's
   * hint `matchHint`. Returns false (changing nothing) if the rejection is
   * stale, as can happen with reordered or duplicated messages; otherwise
   * lowers next and clears the pause.
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === ProgressStateType.StateReplicate) {
      // Stale if the follower already acked past the rejected index.
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      // The commit index sent along has likely not been applied.
      this._sentCommit = Math.min(this._sentCommit, this.next - 1);
      return true;
    }

    // Probes go out one at a time, so a genuine rejection is for next-1.
    if (this.next - 1 !== rejected) return false;

    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this._sentCommit = Math.min(this._sentCommit, this.next - 1);
    this.msgAppFlowPaused = false;
    return true;
  }

  /**
   * Whether appends to this follower are throttled: it rejected recent
   * MsgApps, awaits a snapshot, or has a full inflights window.
   */
  isPaused(): boolean {
    switch (this.state) {
      case ProgressStateType.StateProbe:
      case ProgressStateType.StateReplicate:
        return this.msgAppFlowPaused;
      case ProgressStateType.StateSnapshot:
        return true;
      default:
        throw new RaftPanic('unexpected state');
    }
  }

  /** etcd's Progress.String(), e.g. "StateReplicate match=5 next=6 inflight=1". */
  toString(): string {
    let buf = `${ProgressStateType[this.state]} match=${this.match} next=${this.next}`;
    if (this.isLearner) buf += ' learner';
    if (this.isPaused()) buf += ' paused';
    if (this.pendingSnapshot > 0) buf += ` pendingSnap=${this.pendingSnapshot}`;
    if (!this.recentActive) buf += ' inactive';
    const n = this.inflights.count();
    if (n > 0) {
      buf += ` inflight=${n}`;
      if (this.inflights.full()) buf += '[full]';
    }
    return buf;
  }
}

/** Progress by node id. */
export type ProgressMap = Map<number, Progress>;

/** etcd's ProgressMap.String(): one "id: progress" line per node, by id. */
export function progressMapToString(m: ReadonlyMap<number, Progress>): string {
  let buf = '';
  for (const id of [...m.keys()].sort((a, b) => a - b)) buf += `${id}: ${m.get(id)!.toString()}\n`;
  return buf;
}
