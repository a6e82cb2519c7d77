// pnpm sim: replay one seed, run a range, or run random seeds for a while.
//   pnpm sim --seed 42 [--trace]      one seed (with --trace: every event)
//   pnpm sim --seeds 1..5000          a range
//   pnpm sim --duration 10m           random seeds until the time is up
// Options that shape a run: --steps N, --async (asyncStorageWrites),
// --no-reads (no ReadIndex requests, as runs were before reads), --bug NAME.
// Exits 1 on any violation, printing its replay command.
import { performance } from 'node:perf_hooks';
import { DEFAULT_STEPS, PLANTED_BUGS, type PlantedBug, type SimOptions } from './options.js';
import { runSeeds } from './runner.js';
import { runSimulation } from './simulator.js';
import { SimViolation } from './violation.js';

const USAGE = 'usage: pnpm sim (--seed N [--trace] | --seeds A..B | --duration 10m|30s|2h) [--steps N] [--async] [--no-reads] [--bug ' + PLANTED_BUGS.join('|') + ']';

function fail(msg: string): never {
  console.error(msg);
  console.error(USAGE);
  process.exit(2);
}

function parseDuration(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(s);
  if (!m) fail(`bad duration ${s}`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? 's']!;
  return Number(m[1]) * unit;
}

function parseInt0(s: string | undefined, what: string): number {
  if (s === undefined || !/^\d+$/.test(s)) fail(`${what} needs a non-negative integer`);
  return Number(s);
}

function main(argv: string[]): number {
  const base: Omit<SimOptions, 'seed'> = {};
  let seed: number | undefined;
  let range: [number, number] | undefined;
  let durationMs: number | undefined;
  let trace = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    switch (a) {
      case '--seed':
        seed = parseInt0(argv[++i], a);
        break;
      case '--seeds': {
        const m = /^(\d+)\.\.(\d+)$/.exec(argv[++i] ?? '');
        if (!m) fail('--seeds wants A..B');
        range = [Number(m[1]), Number(m[2])];
        break;
      }
      case '--duration':
        durationMs = parseDuration(argv[++i] ?? '');
        break;
      case '--steps':
        base.steps = parseInt0(argv[++i], a);
        break;
      case '--async':
        base.asyncStorageWrites = true;
        break;
      case '--no-reads':
        base.reads = false;
        break;
      case '--bug': {
        const b = argv[++i] as PlantedBug;
        if (!PLANTED_BUGS.includes(b)) fail(`unknown bug ${b}`);
        base.bug = b;
        break;
      }
      case '--trace':
        trace = true;
        break;
      default:
        fail(`unknown argument ${a}`);
    }
  }
  if ([seed, range, durationMs].filter((x) => x !== undefined).length !== 1) fail('give exactly one of --seed, --seeds, --duration');

  if (seed !== undefined) {
    try {
      const r = runSimulation({ ...base, seed, trace: trace ? (line) => console.log(line) : undefined });
      console.log(`seed ${seed}: ok ${JSON.stringify(r.stats)}`);
      console.log(`final: ${r.fingerprint}`);
      return 0;
    } catch (e) {
      if (!(e instanceof SimViolation)) throw e;
      console.error(e.message);
      return 1;
    }
  }

  const start = performance.now();
  let seeds: Iterable<number>;
  let keepGoing = (): boolean => true;
  if (range !== undefined) {
    const [a, b] = range;
    seeds = (function* () {
      for (let s = a; s <= b; s++) yield s;
    })();
  } else {
    // Random seeds, each printed on failure so it can be replayed.
    const end = start + durationMs!;
    keepGoing = () => performance.now() < end;
    seeds = (function* () {
      for (;;) yield Math.floor(Math.random() * 2 ** 31);
    })();
  }
  const summary = runSeeds(seeds, base, keepGoing);
  const secs = ((performance.now() - start) / 1000).toFixed(1);
  const t = summary.totals;
  console.log(
    `${summary.seeds} seeds (${base.steps ?? DEFAULT_STEPS} steps${base.asyncStorageWrites ? ', async storage writes' : ''}) in ${secs}s: ` +
      `${summary.violations.length} violations; ${t.steps} steps, ${t.accepted}/${t.proposals} proposals accepted, ${t.acknowledged} acknowledged, ` +
      `${t.crashes} crashes (${t.crashesWithUnsynced} losing unsynced writes), ${t.partitions} partitions, ${t.confChanges} conf changes, ${t.snapshotsSent} snapshots sent, ` +
      `${t.readsServed}/${t.reads} reads answered`,
  );
  for (const v of summary.violations) console.error(v.message);
  return summary.violations.length === 0 ? 0 : 1;
}

process.exitCode = main(process.argv.slice(2));
