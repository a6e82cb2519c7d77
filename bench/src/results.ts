// The one format every benchmark writes: bench/results/<suite>.json. The
// renderer turns these files into BENCHMARKS.md; nothing reads absolute
// times as pass/fail, and every number that matters carries the baseline it
// was measured against in the same run.
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Baseline {
  /** What was measured, e.g. "redis raw round trip" or "etcd-raft BenchmarkOneNode (Go)". */
  name: string;
  value: number;
  unit: string;
}

export interface BenchResult {
  /** Stable id, e.g. "core/one-node" or "cluster/redis/file/1kib/c64". */
  name: string;
  params: Record<string, string | number>;
  /** The headline number and its unit, e.g. 123456 "ops/s". */
  value: number;
  unit: string;
  /** Nanoseconds per operation, for core benchmarks (as Go's testing.B reports). */
  nsPerOp?: number;
  /** Latency percentiles in milliseconds, for cluster benchmarks. */
  latencyMs?: { p50: number; p99: number; p999: number };
  baseline?: Baseline;
  /** value / baseline.value, or as `ratioMeaning` says. */
  ratio?: number;
  /** One line saying how to read the ratio, e.g. "p50 commit latency ÷ raw round trip (target ≤ 2)". */
  ratioMeaning?: string;
  /** Anything a reader needs: target met or not, what was skipped and why. */
  notes?: string;
  /** The ratio this result must reach, if it has a target; BENCHMARKS.md says whether it was met. */
  target?: { ratioAtLeast?: number; ratioAtMost?: number };
}

export interface BenchFile {
  suite: string;
  startedAt: string;
  finishedAt: string;
  quick: boolean;
  machine: { cpus: number; cpuModel: string; memGiB: number; node: string; platform: string };
  results: BenchResult[];
}

export const BENCH_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const RESULTS_DIR = join(BENCH_ROOT, 'results');

export function machine(): BenchFile['machine'] {
  const c = cpus();
  return {
    cpus: c.length,
    cpuModel: c[0]?.model ?? 'unknown',
    memGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
  };
}

/** Writes one suite's results; quick runs go to a separate file so they never overwrite a full run. */
export async function writeResults(
  suite: string,
  startedAt: Date,
  quick: boolean,
  results: BenchResult[],
  dir = RESULTS_DIR,
): Promise<string> {
  const file: BenchFile = {
    suite,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    quick,
    machine: machine(),
    results,
  };
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${suite}${quick ? '.quick' : ''}.json`);
  await writeFile(path, JSON.stringify(file, null, 2) + '\n');
  return path;
}
