// The core suite: etcd-raft's own benchmarks, ported, each reported with the
// matching Go number measured in the same run. Go and ours never run at the
// same time, so they never compete for the machine's cores.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { FULL_TIMING, measure, QUICK_TIMING, type BenchFn, type Timing, type TimingOptions } from '../harness.js';
import type { BenchResult } from '../results.js';
import type { Suite, SuiteOptions } from '../suites.js';
import { ETCD_RAFT_VERSION, median, runGoBaseline, type GoBaseline, type GoRunOptions } from './go-baseline.js';
import { oneNode } from './one-node.js';
import { proposal3Nodes } from './proposal-3nodes.js';
import { committedIndex } from './quorum.js';
import { rawNode } from './rawnode.js';

interface CoreBench {
  name: string;
  params: BenchResult['params'];
  /** The etcd-raft benchmark it mirrors, as `go test -bench` names it (sub-benchmarks after a slash). */
  go: string;
  fn: BenchFn;
  /** What our ops/s ÷ Go's ops/s must reach, if anything. */
  atLeast?: number;
  notes?: string;
}

const QUORUM_SIZES = [1, 3, 5, 7, 9, 11];

export function coreBenchmarks(): CoreBench[] {
  return [
    {
      name: 'core/one-node',
      params: { voters: 1, payload: '3 B', fsync: '1 ms sleep' },
      go: 'BenchmarkOneNode',
      fn: (n) => oneNode(n),
      atLeast: 1,
      notes: 'propose→commit through RawNode and MemoryStorage; Go drives it through Node (goroutines on every core), we through one event loop',
    },
    {
      name: 'core/proposal-3nodes',
      params: { voters: 3, payload: '8 B', fsync: '1 ms sleep', delay: '0–9 ms' },
      go: 'BenchmarkProposal3Nodes',
      fn: (n) => proposal3Nodes(n),
      notes: 'ours is timed until all three nodes commit; Go stops its clock when the last proposal is accepted',
    },
    {
      name: 'core/rawnode/single-voter',
      params: { voters: 1, payload: '3 B' },
      go: 'BenchmarkRawNode/single-voter',
      fn: rawNode([1]),
      notes: 'one propose plus the Ready cycles until it is applied; pure CPU',
    },
    {
      name: 'core/rawnode/two-voters',
      params: { voters: 2, payload: '3 B' },
      go: 'BenchmarkRawNode/two-voters',
      fn: rawNode([1, 2]),
      notes: 'as single-voter, acknowledging for the second voter directly',
    },
    ...QUORUM_SIZES.map((voters) => ({
      name: `core/quorum/committed-index/voters=${voters}`,
      params: { voters },
      go: `BenchmarkMajorityConfig_CommittedIndex/voters=${voters}`,
      fn: committedIndex(voters),
    })),
  ];
}

export interface CoreSuiteOptions extends SuiteOptions {
  /** Overrides the timing that `quick` picks (tests use tiny durations). */
  timing?: TimingOptions;
  /** Replaces running Go (tests pass a canned baseline). */
  goBaseline?: (opts: GoRunOptions) => Promise<GoBaseline>;
  /** Runs only the benchmarks whose names start with one of these. */
  only?: string[];
  /**
   * Runs each benchmark in a fresh process (worker.js), as the CLI does.
   * Tests run from TypeScript sources, where there is no worker.js: false.
   */
  isolate?: boolean;
}

const WORKER = fileURLToPath(new URL('./worker.js', import.meta.url));

/** Runs one benchmark in its own Node process (see worker.ts). */
function measureInProcess(name: string, timing: TimingOptions): Promise<Timing> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [WORKER, name, JSON.stringify(timing)], { maxBuffer: 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`benchmark ${name} failed: ${stderr.trim() || error.message}`));
      try {
        resolve(JSON.parse(stdout.trim().split('\n').pop()!) as Timing);
      } catch (e) {
        reject(new Error(`benchmark ${name} printed no timing: ${String(e)}`));
      }
    });
  });
}

/**
 * Go and ours take turns, round by round (Go's benchmarks once, then ours
 * once), and each side's median over the rounds is compared: on a shared
 * machine the load changes by the minute, and alternating gives both sides
 * the same conditions as nearly as possible.
 */
export async function runCoreSuite(opts: CoreSuiteOptions): Promise<BenchResult[]> {
  const timing = opts.timing ?? (opts.quick ? QUICK_TIMING : FULL_TIMING);
  const rounds = Math.max(1, timing.repeats);
  const benches = coreBenchmarks().filter((b) => opts.only === undefined || opts.only.some((p) => b.name.startsWith(p)));
  const goRun: GoRunOptions = {
    benchmarks: [...new Set(benches.map((b) => b.go.split('/')[0]!))],
    benchtime: opts.quick ? '50ms' : '1s',
    count: 1,
  };
  const runGo = opts.goBaseline ?? runGoBaseline;

  let goUnavailable: string | undefined;
  let goVersion = '';
  const goSamples = new Map<string, number[]>();
  const ourSamples = new Map<string, number[]>();
  for (let round = 1; round <= rounds; round++) {
    if (goUnavailable === undefined) {
      opts.log(`core: round ${round}/${rounds}: etcd-raft ${ETCD_RAFT_VERSION} Go benchmarks (${goRun.benchmarks.join(', ')})`);
      const go = await runGo(goRun);
      if (go.available) {
        goVersion = go.goVersion;
        for (const [name, ns] of go.nsPerOp) goSamples.set(name, [...(goSamples.get(name) ?? []), ns]);
      } else {
        goUnavailable = go.why;
        opts.log(`core: baseline unavailable: ${go.why}`);
      }
    }
    opts.log(`core: round ${round}/${rounds}: ours`);
    for (const b of benches) {
      const once = { ...timing, repeats: 1 };
      const t = opts.isolate === false ? await measure(b.fn, once) : await measureInProcess(b.name, once);
      ourSamples.set(b.name, [...(ourSamples.get(b.name) ?? []), t.nsPerOp]);
    }
  }

  const results: BenchResult[] = [];
  for (const b of benches) {
    const ours = ourSamples.get(b.name)!;
    const nsPerOp = median(ours);
    const opsPerSec = 1e9 / nsPerOp;
    const result: BenchResult = { name: b.name, params: b.params, value: opsPerSec, unit: 'ops/s', nsPerOp };
    const notes: string[] = b.notes ? [b.notes] : [];
    const go = goSamples.get(b.go);
    if (go !== undefined && go.length > 0 && median(go) > 0) {
      const goOps = 1e9 / median(go);
      result.baseline = { name: `etcd-raft ${ETCD_RAFT_VERSION} ${b.go} (${goVersion})`, value: goOps, unit: 'ops/s' };
      result.ratio = opsPerSec / goOps;
      result.ratioMeaning = `our ops/s ÷ etcd-raft's (Go) ops/s, same machine and run${b.atLeast !== undefined ? ` (target ≥ ${b.atLeast})` : '; higher is better'}`;
      if (b.atLeast !== undefined) {
        result.target = { ratioAtLeast: b.atLeast };
        notes.push(result.ratio >= b.atLeast ? 'target met' : 'target NOT met');
      }
      notes.push(`ns/op per round: ours ${list(ours)}; Go ${list(go)}`);
    } else {
      notes.push(`baseline unavailable: ${goUnavailable ?? `Go printed no result for ${b.go}`}`);
      notes.push(`ns/op per round: ${list(ours)}`);
    }
    result.notes = notes.join('; ');
    opts.log(`${b.name}: ${fmt(opsPerSec)} ops/s, ${fmt(nsPerOp)} ns/op${result.ratio !== undefined ? `, ratio ${result.ratio.toFixed(2)}` : ''}`);
    results.push(result);
  }
  return results;
}

function list(ns: number[]): string {
  return ns.map(fmt).join(', ');
}

function fmt(x: number): string {
  return x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toPrecision(3);
}

export const coreSuite: Suite = {
  name: 'core',
  title: 'Core: the Raft state machine against etcd-raft (Go)',
  run: (opts) => runCoreSuite(opts),
};
