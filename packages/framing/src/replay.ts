// Replay detection for authenticated frames. Every sender stamps its frames
// with a random session id (one per Framer, so one per transport start) and
// a sequence number counted per addressee from 1. The receiver keeps, per
// (sender, session), the highest sequence seen and a bitmap of the last
// WINDOW below it: a frame at or below the window's floor, or seen already,
// is a replay. Memory is bounded: at most MAX_SESSIONS windows, the least
// recently used forgotten first.

/** Sequence numbers remembered below the highest one: how far the bus may reorder one sender's frames to us. */
export const REPLAY_WINDOW = 4096;
/** (sender, session) pairs remembered; each costs REPLAY_WINDOW / 8 bytes plus a map entry. */
export const MAX_REPLAY_SESSIONS = 1024;

const WORDS = REPLAY_WINDOW / 32;

interface Window {
  highest: number;
  /** Bit `s % REPLAY_WINDOW` is set when sequence s (within the window) was seen. */
  seen: Uint32Array;
}

export class ReplayWindows {
  /** Insertion order is recency of use: oldest first. */
  private readonly windows = new Map<string, Window>();

  /** Sessions currently remembered. */
  get sessions(): number {
    return this.windows.size;
  }

  /** True the first time (from, session, sequence) is seen within the window; false for a replay. */
  accept(from: number, session: bigint, sequence: number): boolean {
    const key = `${from}/${session.toString(16)}`;
    let w = this.windows.get(key);
    if (w === undefined) {
      w = { highest: 0, seen: new Uint32Array(WORDS) };
      if (this.windows.size >= MAX_REPLAY_SESSIONS) this.windows.delete(this.windows.keys().next().value!);
    } else {
      this.windows.delete(key);
    }
    this.windows.set(key, w);

    if (sequence > w.highest) {
      // Slide: the slots between the old highest and the new one are now unseen sequence numbers.
      if (sequence - w.highest >= REPLAY_WINDOW) w.seen.fill(0);
      else for (let s = w.highest + 1; s < sequence; s++) clear(w.seen, s);
      w.highest = sequence;
      set(w.seen, sequence);
      return true;
    }
    if (w.highest - sequence >= REPLAY_WINDOW) return false;
    if (isSet(w.seen, sequence)) return false;
    set(w.seen, sequence);
    return true;
  }
}

function slot(s: number): [number, number] {
  const bit = s % REPLAY_WINDOW;
  return [bit >>> 5, 1 << (bit & 31)];
}

function set(seen: Uint32Array, s: number): void {
  const [word, mask] = slot(s);
  seen[word]! |= mask;
}

function clear(seen: Uint32Array, s: number): void {
  const [word, mask] = slot(s);
  seen[word]! &= ~mask;
}

function isSet(seen: Uint32Array, s: number): boolean {
  const [word, mask] = slot(s);
  return (seen[word]! & mask) !== 0;
}
