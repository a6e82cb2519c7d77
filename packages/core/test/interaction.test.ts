// Replays etcd-raft's interaction scenarios (testdata/*.txt, as etcd's
// interaction_test.go does): one test per file, each in a fresh env.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runInteractionFile } from '../src/rafttest/index.js';
import { etcdTestdata, txtFiles } from './helpers/testdata.js';

const testdata = etcdTestdata('interaction');

/** The scenarios the first milestone must pass. */
export const PART1_FILES: readonly string[] = [
  'single_node.txt',
  'campaign.txt',
  'checkquorum.txt',
  'prevote.txt',
  'prevote_checkquorum.txt',
  'probe_and_replicate.txt',
  'replicate_pause.txt',
  'lagging_commit.txt',
  'heartbeat_resp_recovers_from_probing.txt',
  'forget_leader.txt',
  'forget_leader_prevote_checkquorum.txt',
  'forget_leader_read_only_lease_based.txt',
];

const files = txtFiles(testdata);

describe('interaction', () => {
  it('finds the scenario files', () => {
    for (const f of PART1_FILES) expect(files).toContain(f);
  });

  for (const f of files) {
    it(f, () => {
      const r = runInteractionFile(path.join(testdata, f));
      expect(r.blocks).toBeGreaterThan(0);
      if (r.failure) {
        const { pos, line, actual, expected } = r.failure;
        expect(actual, `${pos}: ${line}`).toBe(expected);
      }
    });
  }
});
