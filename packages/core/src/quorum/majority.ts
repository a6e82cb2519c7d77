// A set of voters that decides by simple majority (etcd's MajorityConfig).
import { type AckedIndexer, type Index, MaxIndex, VoteResult } from './quorum.js';

interface Tup {
  id: number;
  idx: Index;
  ok: boolean;
  bar: number;
}

export class MajorityConfig extends Set<number> {
  /** The ids in hex, sorted, e.g. "(1 2 3)" (etcd prints ids with %x). */
  override toString(): string {
    return `(${this.slice()
      .map((id) => id.toString(16))
      .join(' ')})`;
  }

  /**
   * A multi-line picture of the acknowledged indexes: the i-th largest index
   * gets a bar of length i (equal indexes get equal bars).
   */
  describe(l: AckedIndexer): string {
    if (this.size === 0) return '<empty majority quorum>';
    const n = this.size;
    const info: Tup[] = [];
    for (const id of this) {
      const idx = l.ackedIndex(id);
      info.push({ id, idx: idx ?? 0, ok: idx !== undefined, bar: 0 });
    }
    info.sort((a, b) => a.idx - b.idx || a.id - b.id);
    for (let i = 1; i < info.length; i++) {
      info[i]!.bar = info[i - 1]!.idx < info[i]!.idx ? i : info[i - 1]!.bar;
    }
    info.sort((a, b) => a.id - b.id);

    let buf = ' '.repeat(n) + '    idx\n';
    for (const t of info) {
      buf += t.ok ? 'x'.repeat(t.bar) + '>' + ' '.repeat(n - t.bar) : '?' + ' '.repeat(n);
      buf += ` ${String(t.idx).padStart(5)}    (id=${t.id.toString(16)})\n`;
    }
    return buf;
  }

  /** The ids in ascending order. */
  slice(): number[] {
    return [...this].sort((a, b) => a - b);
  }

  /**
   * The largest index acknowledged by a majority. Voters that have not
   * reported count as 0. An empty config returns MaxIndex so that, in a joint
   * config, it defers to the other half.
   */
  committedIndex(l: AckedIndexer): Index {
    const n = this.size;
    if (n === 0) return MaxIndex;
    const srt: Index[] = [];
    for (const id of this) srt.push(l.ackedIndex(id) ?? 0);
    srt.sort((a, b) => a - b);
    // The smallest index acked by a quorum: n/2+1 from the right.
    return srt[n - (Math.floor(n / 2) + 1)]!;
  }

  /**
   * Won if a majority voted yes, lost if that can no longer happen, pending
   * otherwise. An empty config wins, so a half-populated joint config behaves
   * like a majority config.
   */
  voteResult(votes: ReadonlyMap<number, boolean>): VoteResult {
    if (this.size === 0) return VoteResult.VoteWon;
    let yes = 0;
    let missing = 0;
    for (const id of this) {
      const v = votes.get(id);
      if (v === undefined) missing++;
      else if (v) yes++;
    }
    const q = Math.floor(this.size / 2) + 1;
    if (yes >= q) return VoteResult.VoteWon;
    if (yes + missing >= q) return VoteResult.VotePending;
    return VoteResult.VoteLost;
  }
}
