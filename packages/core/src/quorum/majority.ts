// A set of voters that decides by simple majority (etcd's MajorityConfig).
import { type AckedIndexer, type Index, MaxIndex, VoteResult } from './quorum.js';

interface Tup {
  id: number;
  idx: Index;
  ok: boolean;
  bar: number;
}

/** committedIndex's sort buffer (float64 holds every safe-integer index exactly). */
const NO_SCRATCH = new Float64Array(0);
let scratch = new Float64Array(16);

export class MajorityConfig extends Set<number> {
  /**
   * The members as an array, for committedIndex (iterating an array beats a
   * Set), dropped on every change. Non-enumerable, so equal configs stay
   * deep-equal whether or not one has computed it.
   */
  declare private members: number[] | undefined;

  // The Set constructor adds through these too, so the cache is never stale.
  override add(id: number): this {
    if (this.members !== undefined) this.members = undefined;
    return super.add(id);
  }
  override delete(id: number): boolean {
    if (this.members !== undefined) this.members = undefined;
    return super.delete(id);
  }
  override clear(): void {
    if (this.members !== undefined) this.members = undefined;
    super.clear();
  }

  private memberArray(): number[] {
    let members = this.members;
    if (members === undefined) {
      members = [...this];
      Object.defineProperty(this, 'members', { value: members, writable: true, configurable: true, enumerable: false });
    }
    return members;
  }

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
    const members = this.memberArray();
    if (n === 1) return l.ackedIndex(members[0]!) ?? 0;
    // Insertion sort: voter sets are small, and it beats Array#sort with a
    // comparator there (etcd does the same, on a stack array). The buffer is
    // borrowed, so a call from inside ackedIndex would get one of its own.
    const srt = scratch.length >= n ? scratch : new Float64Array(Math.max(n, 16));
    scratch = NO_SCRATCH;
    for (let k = 0; k < n; k++) {
      const idx = l.ackedIndex(members[k]!) ?? 0;
      let j = k;
      while (j > 0 && srt[j - 1]! > idx) {
        srt[j] = srt[j - 1]!;
        j--;
      }
      srt[j] = idx;
    }
    scratch = srt;
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
