// A small seeded generator (mulberry32), so that a failing run can be
// replayed: the same seed gives the same elections, payloads and faults.

export class SeededRandom {
  private state: number;

  constructor(readonly seed: number) {
    this.state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** `length` random bytes. */
  bytes(length: number): Uint8Array {
    const b = new Uint8Array(length);
    for (let i = 0; i < length; i++) b[i] = this.int(256);
    return b;
  }

  /** RawNode's `randomInt` option (the randomized election timeout), bound to this generator. */
  readonly randomInt = (n: number): number => this.int(n);
}
