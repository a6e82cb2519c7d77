// The bare RawNode example must keep working: it is the loop the README
// points to. It runs from its build (pnpm test builds first).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));

describe('examples/cluster', () => {
  it('elects, replicates, re-elects after losing the leader, and converges', () => {
    expect(existsSync(main), `${main} is missing: run tsc -b first`).toBe(true);
    const r = spawnSync(process.execPath, [main], { encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/node \d is leader at term \d+/);
    expect(r.stdout).toContain('all nodes applied the same 4 entries in the same order');
    const perNode = r.stdout.match(/node \d: x=1, y=2, z=3, w=4/g) ?? [];
    expect(perNode).toHaveLength(3);
  });
});
