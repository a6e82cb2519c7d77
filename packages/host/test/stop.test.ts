// stop() and a storage waiting for its medium: RedisStorage retries a write
// until Redis is back, so a stop() that waited for the write in progress
// would last as long as the outage. RaftNode tells the storage to stop
// retrying (DurableStorage.stopRetrying); the write fails, and the node
// stops without it, rejecting what is pending with a plain ErrStopped.
import type { PersistBatch } from '@raftbus/core';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrStopped } from '../src/index.js';
import { type Member, STORAGE_MODES, TestCluster, utf8, waitFor } from './helpers/cluster.js';

let c: TestCluster | undefined;
afterEach(async () => {
  await c?.stopAll();
  c = undefined;
});

/**
 * Makes `m`'s storage unreachable from now on: each save waits, as a store
 * retrying until its medium is back does, until stopRetrying() makes it
 * (and any later one) fail.
 */
function unreachable(m: Member): { waiting: () => number; stopRetryingCalls: () => number } {
  let waiting = 0;
  let calls = 0;
  let stopped = false;
  const giveUp = new Set<() => void>();
  const gaveUp = () => new Error('the medium is unreachable: gave up retrying');
  m.storage.save = (_batch: PersistBatch) =>
    new Promise<void>((_, reject) => {
      if (stopped) return reject(gaveUp());
      waiting++;
      giveUp.add(() => reject(gaveUp()));
    });
  Object.assign(m.storage, {
    stopRetrying() {
      calls++;
      stopped = true;
      for (const fail of giveUp) fail();
    },
  });
  return { waiting: () => waiting, stopRetryingCalls: () => calls };
}

describe.each(STORAGE_MODES)('RaftNode stop() with a storage waiting for its medium ($name)', ({ asyncStorageWrites }) => {
  it('tells the storage to stop retrying and stops without the write, which was never acknowledged', async () => {
    c = await new TestCluster([1], { asyncStorageWrites }).start();
    const m = await c.waitForLeader();
    await expect(m.node.propose(utf8('before'))).resolves.toMatch(/^before@/);
    const lastBefore = m.storage.lastIndex();
    const errors: Error[] = [];
    m.node.on('error', (e) => errors.push(e));

    const storage = unreachable(m);
    const pending = m.node.propose(utf8('during')).then(
      () => 'resolved',
      (e: unknown) => e,
    );
    await waitFor(() => storage.waiting() > 0, 5_000, 'a save waiting for the medium');

    // Without stopRetrying() this would wait for the medium, which never comes back here.
    await m.node.stop();
    expect(storage.stopRetryingCalls()).toBe(1);
    const outcome = await pending;
    expect(outcome).toBeInstanceOf(ErrStopped);
    // A stop, not a fatal error: no 'error' event, and the rejection names no cause.
    expect((outcome as ErrStopped).message).toBe('raft node is stopped');
    expect(errors).toEqual([]);
    expect(m.node.status().state).toBe('stopped');
    // The given-up write left nothing in the storage.
    expect(m.storage.lastIndex()).toBe(lastBefore);
  });
});
