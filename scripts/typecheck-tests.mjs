// Typechecks every package's tests (vitest runs them without checking
// types). Each test folder has its own tsconfig.json with noEmit.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const projects = ['packages', 'examples'].flatMap((root) =>
  readdirSync(root)
    .map((name) => join(root, name, 'test', 'tsconfig.json'))
    .filter((p) => existsSync(p)),
);
for (const p of ['integration/test/tsconfig.json', 'bench/test/tsconfig.json']) if (existsSync(p)) projects.push(p);
let failed = 0;
for (const p of projects) {
  const r = spawnSync(process.execPath, [tsc, '-p', p], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
if (failed > 0) {
  console.error(`type errors in ${failed} of ${projects.length} test projects`);
  process.exit(1);
}
