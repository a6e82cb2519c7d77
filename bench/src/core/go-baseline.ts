// etcd-raft's own Go benchmarks, run in the same `pnpm bench` as ours: the
// module in bench/go-baseline pins go.etcd.io/raft/v3 at the release the core
// ports, and `go test` runs that dependency's benchmarks from the module
// cache. When Go or the module proxy is not there, the baseline is reported
// unavailable with the reason; it is never estimated.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_ROOT } from '../results.js';

export const GO_MODULE_DIR = join(BENCH_ROOT, 'go-baseline');
export const ETCD_RAFT_VERSION = 'v3.6.0';
const PACKAGES = ['go.etcd.io/raft/v3', 'go.etcd.io/raft/v3/rafttest', 'go.etcd.io/raft/v3/quorum'];

export type GoBaseline =
  | { available: true; goVersion: string; /** Median ns/op by benchmark name, without the -GOMAXPROCS suffix. */ nsPerOp: Map<string, number> }
  | { available: false; why: string };

export interface GoRunOptions {
  /** Top-level benchmark names to run, e.g. BenchmarkOneNode. */
  benchmarks: string[];
  /** Go's -benchtime, e.g. "1s" or "50ms". */
  benchtime: string;
  /** Go's -count; the median of the runs is kept. */
  count: number;
}

function goBinary(): string {
  if (process.env.GO) return process.env.GO;
  if (existsSync('/usr/local/go/bin/go')) return '/usr/local/go/bin/go';
  // Whatever `go` is on PATH; a missing one shows as ENOENT below.
  return 'go';
}

function run(cmd: string, args: string[]): Promise<{ stdout: string; stderr: string; error?: Error }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd: GO_MODULE_DIR, maxBuffer: 64 * 1024 * 1024, timeout: 15 * 60_000 }, (error, stdout, stderr) => {
      resolve({ stdout, stderr, error: error ?? undefined });
    });
  });
}

/**
 * The first line of a failed go command that says what went wrong, e.g.
 * "module lookup disabled by GOPROXY=off" or a dial error, rather than the
 * progress and summary lines around it.
 */
function firstError(stderr: string, stdout: string, error: Error): string {
  const lines = [...stderr.split('\n'), ...stdout.split('\n')].map((l) => l.trim());
  const line = lines.find((l) => l.length > 0 && !/^(go: downloading|#|FAIL|ok\s|PASS)/.test(l)) ?? lines.find((l) => l.length > 0);
  return (line ?? error.message).slice(0, 300);
}

export async function runGoBaseline(opts: GoRunOptions): Promise<GoBaseline> {
  const go = goBinary();
  const version = await run(go, ['version']);
  if (version.error) {
    const code = (version.error as NodeJS.ErrnoException).code;
    return { available: false, why: code === 'ENOENT' ? `Go toolchain not found (${go})` : firstError(version.stderr, version.stdout, version.error) };
  }
  const pattern = `^(${opts.benchmarks.join('|')})$`;
  const args = ['test', '-run', '^$', '-bench', pattern, '-benchtime', opts.benchtime, '-count', String(opts.count), '-p', '1', ...PACKAGES];
  const res = await run(go, args);
  if (res.error) return { available: false, why: `go test failed: ${firstError(res.stderr, res.stdout, res.error)}` };
  const samples = parseGoBench(res.stdout);
  if (samples.size === 0) return { available: false, why: 'go test printed no benchmark results' };
  const nsPerOp = new Map<string, number>();
  for (const [name, values] of samples) nsPerOp.set(name, median(values));
  return { available: true, goVersion: version.stdout.trim().split(' ')[2] ?? 'go', nsPerOp };
}

/**
 * ns/op samples by benchmark name from `go test -bench` output. A result may
 * come on a later line than its name when the benchmark logs (BenchmarkOneNode
 * prints raft's log lines between the two), so the last name seen owns the
 * next "N  X ns/op".
 */
export function parseGoBench(output: string): Map<string, number[]> {
  const out = new Map<string, number[]>();
  let current: string | undefined;
  for (const line of output.split('\n')) {
    const named = /^(Benchmark\S+?)(?:-\d+)?(?:\s|$)/.exec(line);
    if (named) current = named[1]!;
    const result = /(?:^|\s)(\d+)\s+([\d.]+) ns\/op/.exec(named ? line.slice(named[0].length - 1) : line);
    if (result && current !== undefined) {
      const list = out.get(current) ?? [];
      list.push(Number(result[2]));
      out.set(current, list);
      current = undefined;
    }
  }
  return out;
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
