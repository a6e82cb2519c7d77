// Runs the whole test suite and ends with the plain summary line CI reads:
// "N passed, M failed" (", K skipped" when any were skipped).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const results = '.vitest-results.json';
rmSync(results, { force: true });
// vitest's bin, resolved through its package.json (its exports map hides the file).
const vitest = join(dirname(createRequire(import.meta.url).resolve('vitest/package.json')), 'vitest.mjs');
const run = spawnSync(
  process.execPath,
  [vitest, 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${results}`, ...process.argv.slice(2)],
  { stdio: 'inherit' },
);

if (!existsSync(results)) {
  console.log('0 passed, 1 failed');
  console.error(`vitest produced no results (exit ${run.status ?? run.signal})`);
  process.exit(1);
}
const r = JSON.parse(readFileSync(results, 'utf8'));
const passed = r.numPassedTests ?? 0;
// A test file that fails without a failed test (it did not load, or a hook
// threw) counts as one failure, so that it cannot pass unnoticed.
const brokenFiles = (r.testResults ?? []).filter(
  (f) => f.status === 'failed' && !(f.assertionResults ?? []).some((a) => a.status === 'failed'),
).length;
const failed = (r.numFailedTests ?? 0) + brokenFiles;
const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(run.status === 0 && failed === 0 && passed > 0 ? 0 : 1);

