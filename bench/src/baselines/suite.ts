// The baselines every cluster result is read against, measured in the same
// run: per bus, the raw round trip and raw one-way rate at each payload
// size (measure.ts); and the disk's raw durable-write rate (fsync.ts).
import type { BenchResult } from '../results.js';
import type { Bus, BusName } from './buses.js';
import { fsyncRate, type FsyncResult, type SyncCall } from './fsync.js';
import { oneWay, roundTrips, type OneWayResult } from './measure.js';
import { percentiles, sig4, type Percentiles } from './percentiles.js';
import { sizeLabel } from './sizes.js';

export interface BaselineOptions {
  payloadSizes: readonly number[];
  /** Time for each round-trip and each one-way measurement, per payload size. */
  durationMs: number;
}

/** One bus's baselines by payload size; a size whose measurement failed is absent. */
export interface BusBaselines {
  bus: BusName;
  roundTripMs: Map<number, Percentiles>;
  oneWay: Map<number, OneWayResult>;
}

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** Measures `bus`'s baselines; each becomes a result named baseline/<bus>/{rtt,one-way}/<size>. */
export async function measureBus(bus: Bus, o: BaselineOptions): Promise<{ baselines: BusBaselines; results: BenchResult[] }> {
  const baselines: BusBaselines = { bus: bus.name, roundTripMs: new Map(), oneWay: new Map() };
  const results: BenchResult[] = [];
  for (const size of o.payloadSizes) {
    const params = { bus: bus.name, payloadBytes: size };
    const rttName = `baseline/${bus.name}/rtt/${sizeLabel(size)}`;
    try {
      const samples = await withLink(bus, (link) =>
        roundTrips(link, { payloadBytes: size, durationMs: o.durationMs, warmup: 10, maxSamples: 100_000 }),
      );
      const p = percentiles(samples);
      baselines.roundTripMs.set(size, p);
      results.push({
        name: rttName,
        params: { ...params, samples: samples.length },
        value: sig4(p.p50),
        unit: 'ms',
        latencyMs: { p50: sig4(p.p50), p99: sig4(p.p99), p999: sig4(p.p999) },
        notes: `raw ${bus.name} round trip: publish ${size} B to a peer's inbox, the peer publishes it back; one at a time. ${bus.where}`,
      });
    } catch (e) {
      results.push({ name: rttName, params, value: 0, unit: 'ms', notes: `failed: ${message(e)}` });
    }
    const owName = `baseline/${bus.name}/one-way/${sizeLabel(size)}`;
    try {
      const r = await withLink(bus, (link) => oneWay(link, { payloadBytes: size, durationMs: o.durationMs }));
      if (r.received === 0) throw new Error(`no frame arrived (${r.lost} lost)`);
      baselines.oneWay.set(size, r);
      results.push({
        name: owName,
        params: { ...params, received: r.received, lost: r.lost },
        value: Math.round(r.perSecond),
        unit: 'msgs/s',
        notes:
          `raw ${bus.name} one-way rate: one publisher to one subscriber, ${size} B frames in bursts of 64, ` +
          `at most 1000 unreceived, each frame published as the transport publishes one. ${bus.where}`,
      });
    } catch (e) {
      results.push({ name: owName, params, value: 0, unit: 'msgs/s', notes: `failed: ${message(e)}` });
    }
  }
  return { baselines, results };
}

async function withLink<T>(bus: Bus, run: (link: ReturnType<Bus['link']>) => Promise<T>): Promise<T> {
  const link = bus.link();
  try {
    return await run(link);
  } finally {
    await link.close().catch(() => undefined);
  }
}

/** The disk's fdatasync rate at one payload size (what FileStorage's WAL does per batch): one writer alone, and `writers` at once. */
export interface DiskBaseline {
  alone: FsyncResult;
  /** Each of `shared.writers` writers' rate while all write at once, as the nodes of a cluster sharing this disk do. */
  shared?: FsyncResult;
}

/** By payload size, for the file-storage results. */
export type FsyncBaselines = Map<number, DiskBaseline>;

/**
 * The disk's durable-write rates under `dir`: fdatasync and fsync at each
 * size, results named baseline/fsync/<size>/<call>; and fdatasync with
 * `sharedWriters` writers at once, baseline/fsync/<size>/fdatasync/<n>-writers.
 */
export async function measureFsync(
  dir: string,
  payloadSizes: readonly number[],
  durationMs: number,
  sharedWriters: number,
): Promise<{ fdatasync: FsyncBaselines; results: BenchResult[] }> {
  const fdatasync: FsyncBaselines = new Map();
  const results: BenchResult[] = [];
  const measure = async (name: string, size: number, call: SyncCall, writers: number, how: string): Promise<FsyncResult | undefined> => {
    try {
      const r = await fsyncRate(dir, size, call, durationMs, writers);
      results.push({
        name,
        params: { payloadBytes: size, call, writers, ops: r.ops },
        value: Math.round(r.perSecond),
        unit: 'ops/s',
        notes: `raw disk rate: append ${size} B then ${call}, ${how}, in ${dir}`,
      });
      return r;
    } catch (e) {
      results.push({ name, params: { payloadBytes: size, call, writers }, value: 0, unit: 'ops/s', notes: `failed: ${message(e)}` });
      return undefined;
    }
  };
  for (const size of payloadSizes) {
    const base = `baseline/fsync/${sizeLabel(size)}`;
    const alone = await measure(`${base}/fdatasync`, size, 'fdatasync', 1, 'one after the other');
    await measure(`${base}/fsync`, size, 'fsync', 1, 'one after the other');
    const shared =
      sharedWriters > 1
        ? await measure(
            `${base}/fdatasync/${sharedWriters}-writers`,
            size,
            'fdatasync',
            sharedWriters,
            `one after the other in each of ${sharedWriters} files at once (the rate is each writer's)`,
          )
        : undefined;
    if (alone) fdatasync.set(size, { alone, ...(shared && { shared }) });
  }
  return { fdatasync, results };
}
