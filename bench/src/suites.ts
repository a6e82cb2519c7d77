// The registry of benchmark suites: `pnpm bench` runs the ones listed here.
//
// To add a suite (cluster, baselines, memory, ...): export a `Suite` from its
// folder, e.g. `export const clusterSuite: Suite = { name: 'cluster', ... }`
// in bench/src/cluster/suite.ts, import it below and append it to `suites`.
// That is the whole contract: the CLI picks suites by name (--suite NAME),
// writes what run() returns to bench/results/<name>[.quick].json with
// writeResults, and the renderer turns every results file into a table in
// BENCHMARKS.md (and every result with a ratio into a bar of the chart). A
// suite that cannot run here (no server, no toolchain) returns results whose
// `notes` say why rather than throwing; run() throwing fails only that suite.
import type { BenchResult } from './results.js';
import { coreSuite } from './core/suite.js';
import { clusterSuite } from './cluster/suite.js';
import { clusterMpSuite } from './cluster-mp/suite.js';
import { memorySuite } from './memory/suite.js';
import { recoverySuite } from './recovery/suite.js';

export interface SuiteOptions {
  /** Run each benchmark briefly: proves it works, numbers mean little. */
  quick: boolean;
  /** Progress lines for the terminal (never parsed). */
  log: (line: string) => void;
}

export interface Suite {
  /** Names the results file (bench/results/<name>.json) and the --suite flag. */
  name: string;
  /** One line for the BENCHMARKS.md section heading. */
  title: string;
  run(opts: SuiteOptions): Promise<BenchResult[]>;
}

export const suites: Suite[] = [coreSuite, clusterSuite, clusterMpSuite, memorySuite, recoverySuite];
