// Where etcd-raft's testdata lives: $RAFTBUS_TESTDATA, else
// ../shared/etcd-raft-testdata beside the repository.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runFile, type TestData } from '../../src/rafttest/datadriven.js';

const repoRoot = fileURLToPath(new URL('../../../..', import.meta.url));

/** The etcd-raft testdata directory, or the subdirectory sub of it. */
export function etcdTestdata(...sub: string[]): string {
  return path.join(process.env.RAFTBUS_TESTDATA ?? path.resolve(repoRoot, '../shared/etcd-raft-testdata'), ...sub);
}

/** The names of the .txt files in dir, sorted. */
export function txtFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.txt'))
    .sort();
}

/**
 * The datadriven suite of one etcd testdata subdirectory (as etcd's
 * datadriven_test.go files run them): every .txt file replayed through a
 * fresh handler from newHandler, and a check that there are files at all.
 */
export function describeDatadriven(title: string, sub: string, newHandler: () => (d: TestData) => string): void {
  const testdata = etcdTestdata(sub);
  const files = txtFiles(testdata);

  describe(title, () => {
    it('finds the data files', () => {
      expect(files.length).toBeGreaterThan(0);
    });

    it.each(files)('%s', (file) => {
      const res = runFile(path.join(testdata, file), newHandler());
      if (res.failure) {
        const f = res.failure;
        expect.fail(`${f.pos}: ${f.cmd}\n--- expected\n${f.expected}--- actual\n${f.actual}`);
      }
      expect(res.blocks).toBeGreaterThan(0);
    });
  });
}
