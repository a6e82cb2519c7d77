import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { http, TestCluster } from './support/cluster.js';

describe('a cluster restarted from its data dirs', () => {
  let c: TestCluster;

  beforeAll(async () => {
    c = await TestCluster.create([1, 2, 3]);
  });
  afterAll(() => c?.destroy());

  it('keeps every acknowledged write', async () => {
    // Snapshots every 10 entries: recovery goes through a snapshot and the log after it.
    const snapshot = { entries: 10, catchUpEntries: 2 };
    await c.startAll(true, () => ({ snapshot }));
    await c.leader();

    const acknowledged = new Map<string, string | undefined>();
    for (let i = 0; i < 45; i++) {
      const via = c.ids[i % c.ids.length]!;
      const reply = await http('PUT', `${c.node(via).url}/kv/key-${i}`, `value-${i}`);
      expect(reply.status).toBe(200);
      acknowledged.set(`key-${i}`, `value-${i}`);
    }
    for (const i of [3, 17, 44]) {
      expect((await http('DELETE', `${c.node(1).url}/kv/key-${i}`)).status).toBe(200);
      acknowledged.set(`key-${i}`, undefined);
    }
    expect(c.ids.some((id) => c.node(id).raft.status().snapshotIndex > 0)).toBe(true);

    await c.stopAll();
    await c.startAll(false, () => ({ snapshot }));
    await c.leader();

    for (const id of c.ids) {
      for (const [key, value] of acknowledged) {
        const reply = await http('GET', `${c.node(id).url}/kv/${key}`);
        expect({ id, key, status: reply.status, value: reply.status === 200 ? reply.text : undefined }).toEqual({
          id,
          key,
          status: value === undefined ? 404 : 200,
          value,
        });
      }
    }
  });
});
