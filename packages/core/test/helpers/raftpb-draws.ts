// Seeded raftpb values for the codec tests. The shapes are fixed here; each
// test sets what it aims at: the special integers, how long byte fields run,
// how many entries and nested responses a message carries.
import { EMPTY_BYTES, type ConfState, type Entry, type HardState, type Message, type Snapshot } from '../../src/raftpb/types.js';
import { SeededDraws } from './random.js';

export abstract class RaftpbDraws extends SeededDraws {
  /** The integers a u64 field is drawn from a quarter of the time (varint and 2^32 edges). */
  protected abstract readonly specialU64s: readonly number[];
  /** The chance that a message carries a snapshot. */
  protected abstract readonly snapshotChance: number;
  /** The length of a byte field. */
  protected abstract size(): number;
  /** How many entries a message carries. */
  protected abstract entryCount(): number;
  /** How many responses a message nested `depth` deep carries. */
  protected abstract responseCount(depth: number): number;

  u64(): number {
    switch (this.int(4)) {
      case 0:
        return this.int(300);
      case 1:
        return this.pick(this.specialU64s);
      case 2:
        return this.int(2 ** 32);
      default:
        return this.int(2 ** 21) * 2 ** 32 + this.int(2 ** 32);
    }
  }
  /** A byte field: `size()` bytes unless told; an empty one is the shared EMPTY_BYTES. */
  override bytes(n = this.size()): Uint8Array {
    return n === 0 ? EMPTY_BYTES : super.bytes(n);
  }
  ids(): number[] {
    return Array.from({ length: this.int(5) }, () => this.u64());
  }
  entry(): Entry {
    return { term: this.u64(), index: this.u64(), type: this.int(3), data: this.bytes() };
  }
  confState(): ConfState {
    return { voters: this.ids(), learners: this.ids(), votersOutgoing: this.ids(), learnersNext: this.ids(), autoLeave: this.chance(0.5) };
  }
  snapshot(): Snapshot {
    return { data: this.bytes(), metadata: { confState: this.confState(), index: this.u64(), term: this.u64() } };
  }
  hardState(): HardState {
    return { term: this.u64(), vote: this.u64(), commit: this.u64() };
  }
  message(depth = 0): Message {
    const m: Message = {
      type: this.int(24),
      to: this.u64(),
      from: this.u64(),
      term: this.u64(),
      logTerm: this.u64(),
      index: this.u64(),
      entries: Array.from({ length: this.entryCount() }, () => this.entry()),
      commit: this.u64(),
      vote: this.u64(),
      reject: this.chance(0.3),
      rejectHint: this.u64(),
      context: this.chance(0.3) ? this.bytes() : EMPTY_BYTES,
      responses: Array.from({ length: this.responseCount(depth) }, () => this.message(depth + 1)),
    };
    if (this.chance(this.snapshotChance)) m.snapshot = this.snapshot();
    return m;
  }
}
