// The memory suite: a sustained run of a million proposals (20 000 in
// quick mode) on a 3-node cluster (snapshots every 10 000 entries so the
// log is compacted), sampling the process's RSS and heapUsed 100 times over
// the run (20 in quick mode), after a full GC (gc.ts). Run on the memory
// bus with memory storage, then with file storage (which also turns over
// WAL segments, snapshot files and their purging, where bookkeeping that is
// never dropped would grow), then on each real bus that can be had, with
// file storage (a transport's per-peer and per-message state: sequence
// windows, pending sends, consumer offsets).
//
// Verdict "bounded", by this rule: over the second half of the run, heapUsed
// grows by less than 10% (or less than 4 MiB) and RSS by less than 20% (or
// less than 16 MiB), comparing the median of the samples taken between 40%
// and 60% of the proposals with the median of those in the last 20%. A leak
// of even 50 bytes per proposal is 25 MB over the second half of a full run.
// The growth ratio reported is end ÷ after warm-up (the 20% mark).
import { performance } from 'node:perf_hooks';
import { memoryBus, openBus, type Bus } from '../baselines/buses.js';
import { median, sig4 } from '../baselines/percentiles.js';
import { BenchCluster, type StorageKind } from '../cluster/bench-cluster.js';
import type { BenchResult } from '../results.js';
import type { Suite } from '../suites.js';
import { findGc } from './gc.js';

export interface MemorySuiteOptions {
  quick?: boolean;
  /** Proposals in the run. Default 1 000 000; quick 20 000. */
  proposals?: number;
  /** Closed-loop proposers. Default 256. */
  concurrency?: number;
  payloadBytes?: number;
  /** Default 'memory'. */
  storage?: StorageKind;
  /** Default the in-process memory bus. */
  bus?: Bus;
  /** Samples over the run. Default 100; quick 20. */
  samples?: number;
  log?: (line: string) => void;
}

export interface MemorySample {
  /** Proposals completed when sampled. */
  proposals: number;
  rssMiB: number;
  heapUsedMiB: number;
}

export const HEAP_LIMIT = { ratio: 0.1, mib: 4 };
export const RSS_LIMIT = { ratio: 0.2, mib: 16 };
const RULE =
  `bounded if, from the 40–60% samples' median to the last 20%'s median, heapUsed grows < ${HEAP_LIMIT.ratio * 100}% ` +
  `(or < ${HEAP_LIMIT.mib} MiB) and RSS < ${RSS_LIMIT.ratio * 100}% (or < ${RSS_LIMIT.mib} MiB)`;

export const memorySuite: Suite = {
  name: 'memory',
  title: 'RSS and heap over a sustained run of a million proposals (3 nodes; memory bus with memory and file storage, each real bus with file storage)',
  // RAFTBUS_BENCH_MEMORY_PROPOSALS sets the runs' length for `pnpm bench`.
  run: async ({ quick, log }) => {
    const proposals = Number(process.env['RAFTBUS_BENCH_MEMORY_PROPOSALS']);
    const length = proposals > 0 ? { proposals } : {};
    const results: BenchResult[] = [];
    for (const storage of ['memory', 'file'] as const) {
      results.push(...(await runMemorySuite({ quick, log, storage, ...length })));
    }
    for (const name of ['redis', 'nats', 'kafka'] as const) {
      const bus = await openBus(name);
      if ('skipped' in bus) {
        log(`memory (${name} bus): skipped: ${bus.skipped}`);
        results.push({ name: `memory/${name}/file/sustained`, params: { bus: name, storage: 'file' }, value: 0, unit: 'commits/s', notes: `skipped: ${bus.skipped}` });
        continue;
      }
      try {
        results.push(...(await runMemorySuite({ quick, log, storage: 'file', bus, ...length })));
      } finally {
        await bus.stop().catch(() => undefined);
      }
    }
    return results;
  },
};

const MiB = 1024 * 1024;

/** Samples taken between the fractions `from` and `to` of `total` (the last one included when `to` is 1). */
function between(samples: MemorySample[], total: number, from: number, to: number): MemorySample[] {
  return samples.filter((s) => s.proposals >= from * total && (to >= 1 || s.proposals < to * total));
}

export interface Growth {
  start: number;
  afterWarmup: number;
  middle: number;
  end: number;
  /** end ÷ afterWarmup. */
  ratio: number;
  /** (end − middle) ÷ middle: the growth over the second half. */
  secondHalf: number;
  bounded: boolean;
}

/** The growth of one series (in MiB) by the rule above. */
export function growth(samples: MemorySample[], total: number, pick: (s: MemorySample) => number, limit: { ratio: number; mib: number }): Growth {
  const at = (from: number, to: number): number => median(between(samples, total, from, to).map(pick));
  const start = pick(samples[0]!);
  const afterWarmup = pick(samples.find((s) => s.proposals >= 0.2 * total) ?? samples[0]!);
  const middle = at(0.4, 0.6);
  const end = at(0.8, 1);
  const secondHalf = (end - middle) / middle;
  return { start, afterWarmup, middle, end, ratio: end / afterWarmup, secondHalf, bounded: secondHalf < limit.ratio || end - middle < limit.mib };
}

export async function runMemorySuite(opts: MemorySuiteOptions = {}): Promise<BenchResult[]> {
  const quick = opts.quick ?? false;
  const total = opts.proposals ?? (quick ? 20_000 : 1_000_000);
  const concurrency = opts.concurrency ?? 256;
  const payloadBytes = opts.payloadBytes ?? 128;
  const every = Math.max(1, Math.floor(total / (opts.samples ?? (quick ? 20 : 100))));
  const log = opts.log ?? (() => undefined);
  const storage = opts.storage ?? 'memory';
  const bus = opts.bus ?? memoryBus();
  const params = { proposals: total, concurrency, payloadBytes, sampleEvery: every, nodes: 3, bus: bus.name, storage };

  const cluster = await BenchCluster.start({ bus, storage });
  const { gc, mode } = findGc();
  const samples: MemorySample[] = [];
  const sample = (proposals: number): void => {
    gc?.();
    const m = process.memoryUsage();
    samples.push({ proposals, rssMiB: sig4(m.rss / MiB), heapUsedMiB: sig4(m.heapUsed / MiB) });
  };
  let started = 0;
  let done = 0;
  let errors = 0;
  let nextSample = every;
  const payload = new Uint8Array(payloadBytes).fill(0x62);
  const t0 = performance.now();
  try {
    sample(0);
    log(`memory (${bus.name} bus, ${storage} storage): ${total} proposals, ${concurrency} proposers, gc ${mode}`);
    // Asked again only after a failure: status() is not free.
    let leader = cluster.leader() ?? cluster.nodes[0]!;
    const proposer = async (): Promise<void> => {
      while (started < total) {
        started++;
        try {
          await leader.propose(payload);
        } catch {
          errors++;
          leader = cluster.leader() ?? cluster.nodes[0]!;
        }
        done++;
        if (done >= nextSample) {
          sample(done);
          nextSample += every;
          if (samples.length % 10 === 1) log(`memory (${bus.name} bus, ${storage} storage): ${done} proposals, heapUsed ${samples.at(-1)!.heapUsedMiB} MiB, rss ${samples.at(-1)!.rssMiB} MiB`);
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, proposer));
  } finally {
    await cluster.stop();
  }
  const seconds = (performance.now() - t0) / 1000;
  const heap = growth(samples, total, (s) => s.heapUsedMiB, HEAP_LIMIT);
  const rss = growth(samples, total, (s) => s.rssMiB, RSS_LIMIT);
  const bounded = heap.bounded && rss.bounded;
  const series = (name: 'heap-used' | 'rss', g: Growth, limit: { ratio: number; mib: number }): BenchResult => ({
    name: `memory/${bus.name}/${storage}/sustained/${name}`,
    params: { ...params, startMiB: g.start, afterWarmupMiB: g.afterWarmup, middleMiB: g.middle, endMiB: g.end, secondHalfGrowth: sig4(g.secondHalf) },
    value: g.end,
    unit: 'MiB',
    baseline: { name: `${name === 'rss' ? 'RSS' : 'heapUsed'} after warm-up (20% of the proposals)`, value: g.afterWarmup, unit: 'MiB' },
    ratio: sig4(g.ratio),
    ratioMeaning: `end ÷ after warm-up; bounded if the second half grows < ${limit.ratio * 100}% (or < ${limit.mib} MiB)`,
    notes: `${g.bounded ? 'bounded' : 'NOT bounded'}: second half ${(g.secondHalf * 100).toFixed(1)}% (${sig4(g.end - g.middle)} MiB); gc ${mode}`,
  });
  return [
    {
      name: `memory/${bus.name}/${storage}/sustained`,
      params: { ...params, errors, seconds: sig4(seconds), samples: samples.length },
      value: Math.round(total / seconds),
      unit: 'commits/s',
      notes: `${bounded ? 'bounded' : 'NOT bounded'} (${RULE}); gc ${mode}; samples (proposals:heapUsed MiB/RSS MiB) ${samples
        .filter((_, i) => i % Math.max(1, Math.floor(samples.length / 10)) === 0 || i === samples.length - 1)
        .map((s) => `${s.proposals}:${s.heapUsedMiB}/${s.rssMiB}`)
        .join(' ')}`,
    },
    series('heap-used', heap, HEAP_LIMIT),
    series('rss', rss, RSS_LIMIT),
  ];
}
