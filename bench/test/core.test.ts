// The core suite end to end with tiny durations: every benchmark runs, the
// results file is written, and BENCHMARKS.md and the chart render one row
// and one bar per result. No timing is asserted (shared, noisy machines); a
// canned Go baseline stands in for `go test`, whose output parsing is tested
// on its own.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseGoBench, runGoBaseline, type GoBaseline } from '../src/core/go-baseline.js';
import { coreBenchmarks, runCoreSuite } from '../src/core/suite.js';
import { render } from '../src/render.js';
import type { BenchFile } from '../src/results.js';
import { writeResults } from '../src/results.js';
import { removeTempDirs, tempDir } from './temp-dirs.js';

const TINY = { minTimeMs: 1, warmupMs: 0, repeats: 1 };
afterAll(removeTempDirs);

/** A Go baseline of 1000 ns/op for every benchmark but `missing`. */
function cannedGo(missing: string): () => Promise<GoBaseline> {
  const nsPerOp = new Map(coreBenchmarks().map((b) => [b.go, 1000]));
  nsPerOp.delete(missing);
  return async () => ({ available: true, goVersion: 'go0.0-test', nsPerOp });
}

/** Every element opened is closed, in order: enough to call hand-written SVG well formed. */
function balancedTags(svg: string): boolean {
  const stack: string[] = [];
  for (const m of svg.matchAll(/<(\/?)([a-zA-Z]+)[^>]*?(\/?)>/g)) {
    const [, closing, name, selfClosing] = m;
    if (selfClosing) continue;
    if (closing) {
      if (stack.pop() !== name) return false;
    } else stack.push(name!);
  }
  return stack.length === 0;
}

describe('go test -bench output', () => {
  it('pairs each result with its benchmark, across interleaved log lines and repeats', () => {
    const out = [
      'goos: linux',
      'BenchmarkOneNode-2   \traft2026/11/26 14:55:40 INFO: 1 switched to configuration voters=(1)',
      'raft2026/11/26 14:55:40 INFO: 1 became leader at term 1',
      '   61568\t      4432 ns/op',
      'BenchmarkRawNode/single-voter-2   149946   1497 ns/op   1.000 firstIndex/op   493 B/op   4 allocs/op',
      '    rawnode_test.go:1075: storage access stats: {initialState:1 firstIndex:4}',
      'BenchmarkMajorityConfig_CommittedIndex/voters=11-2   462250   593.7 ns/op',
      'BenchmarkMajorityConfig_CommittedIndex/voters=11-2   497569   627.4 ns/op',
      'BenchmarkMajorityConfig_CommittedIndex/voters=1-2    3550809   67.27 ns/op',
      'PASS',
    ].join('\n');
    const parsed = parseGoBench(out);
    expect(Object.fromEntries(parsed)).toEqual({
      BenchmarkOneNode: [4432],
      'BenchmarkRawNode/single-voter': [1497],
      'BenchmarkMajorityConfig_CommittedIndex/voters=11': [593.7, 627.4],
      'BenchmarkMajorityConfig_CommittedIndex/voters=1': [67.27],
    });
  });

  it('reports a missing Go toolchain as unavailable, with the reason', async () => {
    const saved = process.env.GO;
    process.env.GO = '/nonexistent/raftbus-test/go';
    try {
      const go = await runGoBaseline({ benchmarks: ['BenchmarkOneNode'], benchtime: '1x', count: 1 });
      expect(go.available).toBe(false);
      if (!go.available) expect(go.why).toContain('not found');
    } finally {
      if (saved === undefined) delete process.env.GO;
      else process.env.GO = saved;
    }
  });
});

describe('core suite, quick', () => {
  it('runs every benchmark, writes the results and renders a row and a bar per result', async () => {
    const dir = await tempDir();
    const missing = 'BenchmarkProposal3Nodes';
    const started = new Date();
    const results = await runCoreSuite({ quick: true, timing: TINY, isolate: false, log: () => {}, goBaseline: cannedGo(missing) });

    expect(results.map((r) => r.name)).toEqual(coreBenchmarks().map((b) => b.name));
    for (const r of results) {
      expect(r.value).toBeGreaterThan(0);
      expect(r.unit).toBe('ops/s');
      expect(r.nsPerOp).toBeGreaterThan(0);
      // ops/s and ns/op describe the same measurement.
      expect(r.value * r.nsPerOp!).toBeCloseTo(1e9, -3);
      if (r.name === 'core/proposal-3nodes') {
        expect(r.baseline).toBeUndefined();
        expect(r.ratio).toBeUndefined();
        expect(r.notes).toContain('baseline unavailable');
      } else {
        expect(r.baseline).toMatchObject({ value: 1e6, unit: 'ops/s' });
        expect(r.ratio).toBeCloseTo(r.value / 1e6, 9);
      }
    }
    const oneNode = results.find((r) => r.name === 'core/one-node')!;
    expect(oneNode.target).toEqual({ ratioAtLeast: 1 });
    expect(oneNode.notes).toMatch(oneNode.ratio! >= 1 ? /target met/ : /target NOT met/);

    const path = await writeResults('core', started, true, results, dir);
    expect(path).toBe(join(dir, 'core.quick.json'));
    const file = JSON.parse(await readFile(path, 'utf8')) as BenchFile;
    expect(file).toMatchObject({ suite: 'core', quick: true });
    expect(file.results).toHaveLength(results.length);

    const out = await render({ quick: true, resultsDir: dir });
    const md = await readFile(out.markdown, 'utf8');
    for (const r of results) expect(md).toContain(`| \`${r.name}\` |`);
    expect(md.split('\n').filter((l) => l.startsWith('| `core/'))).toHaveLength(results.length);
    expect(md).toMatch(/`core\/one-node`: ratio [\d.]+, target ratio ≥ 1: (met|\*\*not met\*\*)\./);

    const svg = await readFile(out.chart, 'utf8');
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(balancedTags(svg)).toBe(true);
    const bars = [...svg.matchAll(/<rect [^>]*><title>([^<:]+):/g)].map((m) => m[1]);
    expect(bars).toEqual(results.filter((r) => r.ratio !== undefined).map((r) => r.name));
  });

  it('says the baseline is unavailable, and why, when Go cannot run', async () => {
    const results = await runCoreSuite({
      quick: true,
      timing: TINY,
      isolate: false,
      log: () => {},
      only: ['core/quorum/committed-index/voters=3'],
      goBaseline: async () => ({ available: false, why: 'Go toolchain not found (go)' }),
    });
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({ name: 'core/quorum/committed-index/voters=3', unit: 'ops/s' });
    expect(results[0]!.value).toBeGreaterThan(0);
    expect(results[0]!.baseline).toBeUndefined();
    expect(results[0]!.ratio).toBeUndefined();
    expect(results[0]!.notes).toContain('baseline unavailable: Go toolchain not found (go)');
  });
});
