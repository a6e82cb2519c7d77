// The simulated network: every message waits a random number of steps, may
// be dropped or duplicated, and never crosses a partition. Messages due in
// the same step are delivered in random order, so delays and shuffling
// together give arbitrary reordering.
import type { Message } from '@raftbus/core';
import type { SeededRandom } from '../random.js';

export interface NetworkFaults {
  /** Chance that a message is lost. */
  drop: number;
  /** Chance that a message is delivered twice (each copy with its own delay). */
  duplicate: number;
  /** Delays are uniform in [1, maxDelay] steps. */
  maxDelay: number;
}

export const NO_FAULTS: NetworkFaults = { drop: 0, duplicate: 0, maxDelay: 1 };

interface InFlight {
  message: Message;
  deliverAt: number;
}

export class SimNetwork {
  faults: NetworkFaults = NO_FAULTS;
  private inFlight: InFlight[] = [];
  /** Partition group of each node; nodes in different groups cannot talk. Empty: fully connected. */
  private groups = new Map<number, number>();

  constructor(
    private readonly rng: SeededRandom,
    /** Told when a message will never arrive (the sender reports failed snapshots). */
    private readonly onLost: (m: Message) => void,
  ) {}

  get partitioned(): boolean {
    return this.groups.size > 0;
  }

  canTalk(a: number, b: number): boolean {
    return (this.groups.get(a) ?? 0) === (this.groups.get(b) ?? 0);
  }

  /** Splits the nodes into two random non-empty sides. */
  partition(ids: readonly number[]): number[][] {
    const sides: number[][] = [[], []];
    for (const id of ids) sides[this.rng.int(2)]!.push(id);
    if (sides[1]!.length === 0) sides[1]!.push(sides[0]!.pop()!);
    if (sides[0]!.length === 0) sides[0]!.push(sides[1]!.pop()!);
    this.groups = new Map();
    sides.forEach((side, g) => side.forEach((id) => this.groups.set(id, g)));
    return sides;
  }

  heal(): void {
    this.groups = new Map();
  }

  send(m: Message, now: number): void {
    const f = this.faults;
    if (!this.canTalk(m.from, m.to) || this.rng.next() < f.drop) {
      this.onLost(m);
      return;
    }
    const copies = this.rng.next() < f.duplicate ? 2 : 1;
    for (let i = 0; i < copies; i++) this.inFlight.push({ message: m, deliverAt: now + 1 + this.rng.int(f.maxDelay) });
  }

  /** Removes and returns the messages due at `now`, shuffled; those that meet a partition are lost. */
  due(now: number): Message[] {
    const due: InFlight[] = [];
    const rest: InFlight[] = [];
    for (const f of this.inFlight) (f.deliverAt <= now ? due : rest).push(f);
    this.inFlight = rest;
    const out: Message[] = [];
    for (const f of shuffle(this.rng, due)) {
      if (this.canTalk(f.message.from, f.message.to)) out.push(f.message);
      else this.onLost(f.message);
    }
    return out;
  }

  get size(): number {
    return this.inFlight.length;
  }
}

export function shuffle<T>(rng: SeededRandom, xs: T[]): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
}
