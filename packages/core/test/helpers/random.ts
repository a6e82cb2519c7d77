// Seeded randomness for the tests, so that failures reproduce.

/** mulberry32: a tiny seeded PRNG returning floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A Config.randomInt drawing from a seeded PRNG: uniform in [0, n). */
export function seededRandomInt(seed: number): (n: number) => number {
  const rnd = seededRandom(seed);
  return (n: number) => Math.floor(rnd() * n);
}

/** A random permutation of 0..n-1 (Go's rand.Perm, by Fisher-Yates). */
export function perm(rand: (n: number) => number, n: number): number[] {
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rand(i + 1);
    [p[i], p[j]] = [p[j]!, p[i]!];
  }
  return p;
}

/** Seeded draws for the generators of the tests (each extends it with what it generates). */
export class SeededDraws {
  private readonly rnd: () => number;
  constructor(seed: number) {
    this.rnd = seededRandom(seed);
  }
  /** Uniform in [0, 1). */
  next(): number {
    return this.rnd();
  }
  int(n: number): number {
    return Math.floor(this.rnd() * n);
  }
  chance(p: number): boolean {
    return this.rnd() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  /** n random bytes. */
  bytes(n: number): Uint8Array {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
}
