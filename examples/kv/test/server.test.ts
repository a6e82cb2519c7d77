import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrBackpressure, ErrProposalTimeout, type RaftNode } from '@raftbus/host';
import { waitFor } from '@raftbus/testkit';
import { KvStateMachine, type KvResult } from '../src/kv-state-machine.js';
import { KvServer } from '../src/server.js';
import { http, TestCluster } from './support/cluster.js';

describe('the HTTP API on a 3-node cluster', () => {
  let c: TestCluster;
  // Node 3 refuses to forward proposals, so that the 503 path can be seen.
  const NO_FORWARDING = 3;

  beforeAll(async () => {
    c = await TestCluster.create([1, 2, 3]);
    await c.startAll(true, (id) => (id === NO_FORWARDING ? { disableProposalForwarding: true } : {}));
    if ((await c.leader()) === NO_FORWARDING) await c.node(NO_FORWARDING).raft.transferLeadership(1);
  });
  afterAll(() => c?.destroy());

  /** A follower that forwards proposals, and a node other than it. */
  async function pick(): Promise<{ leader: number; follower: number; other: number }> {
    const leader = await c.leader();
    const follower = c.ids.find((id) => id !== leader && id !== NO_FORWARDING)!;
    return { leader, follower, other: c.ids.find((id) => id !== follower)! };
  }

  it('PUT on a follower goes through the leader and answers the applied index', async () => {
    const { leader, follower, other } = await pick();
    const put = await http('PUT', `${c.node(follower).url}/kv/greeting`, 'hello, world');
    expect(put.status).toBe(200);
    const body = JSON.parse(put.text) as { key: string; index: number; node: number; leader: number };
    expect(body).toMatchObject({ key: 'greeting', node: follower, leader });
    expect(body.index).toBeGreaterThan(0);
    expect(c.node(follower).raft.status().applied).toBeGreaterThanOrEqual(body.index);

    // Linearizable: a read anywhere after the write's acknowledgement sees it.
    const get = await http('GET', `${c.node(other).url}/kv/greeting`);
    expect(get.status).toBe(200);
    expect(get.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(get.text).toBe('hello, world');
  });

  it('keeps keys with slashes and non-ASCII text intact', async () => {
    const { follower, other } = await pick();
    const path = `/kv/${encodeURIComponent('dir/sub ü')}`;
    expect((await http('PUT', `${c.node(follower).url}${path}`, 'ünïcødé 🚀')).status).toBe(200);
    expect((await http('GET', `${c.node(other).url}${path}`)).text).toBe('ünïcødé 🚀');
  });

  it('DELETE removes a key, and GET then answers 404', async () => {
    const { follower, other } = await pick();
    await http('PUT', `${c.node(other).url}/kv/doomed`, 'x');
    const del = await http('DELETE', `${c.node(follower).url}/kv/doomed`);
    expect(del.status).toBe(200);
    expect(JSON.parse(del.text)).toMatchObject({ key: 'doomed', existed: true });
    const again = await http('DELETE', `${c.node(follower).url}/kv/doomed`);
    expect(JSON.parse(again.text)).toMatchObject({ existed: false });
    expect((await http('GET', `${c.node(other).url}/kv/doomed`)).status).toBe(404);
  });

  it('answers 404 for a key never written, linearizable or stale', async () => {
    for (const id of c.ids) {
      const reply = await http('GET', `${c.node(id).url}/kv/never-written`);
      expect(reply.status).toBe(404);
      expect(JSON.parse(reply.text)).toMatchObject({ error: 'key_not_found', key: 'never-written' });
      expect((await http('GET', `${c.node(id).url}/kv/never-written?stale=true`)).status).toBe(404);
    }
  });

  it('serves stale reads from each node once it has applied the write', async () => {
    const { follower } = await pick();
    const { index } = JSON.parse((await http('PUT', `${c.node(follower).url}/kv/everywhere`, 'yes')).text) as { index: number };
    await waitFor(() => c.ids.every((id) => c.node(id).raft.status().applied >= index), 10_000, 'every node to apply the write');
    for (const id of c.ids) expect((await http('GET', `${c.node(id).url}/kv/everywhere?stale=true`)).text).toBe('yes');
  });

  it('GET /status describes the node', async () => {
    const { leader } = await pick();
    for (const id of c.ids) {
      const reply = await http('GET', `${c.node(id).url}/status`);
      expect(reply.status).toBe(200);
      const st = JSON.parse(reply.text) as Record<string, unknown>;
      expect(st).toMatchObject({ id, leader, role: id === leader ? 'leader' : 'follower', members: [1, 2, 3] });
      for (const field of ['term', 'commit', 'applied']) expect(st[field]).toBeTypeOf('number');
    }
  });

  it('refuses a PUT with 503 naming the leader when the node does not forward', async () => {
    const { leader } = await pick();
    const reply = await http('PUT', `${c.node(NO_FORWARDING).url}/kv/refused`, 'x');
    expect(reply.status).toBe(503);
    expect(reply.headers.get('retry-after')).toBe('1');
    expect(JSON.parse(reply.text)).toMatchObject({ error: 'not_leader', leader, leaderUrl: c.urls.get(leader) });
  });

  it('answers 400, 404, 405 and 413 for bad requests', async () => {
    const url = c.node(1).url;
    const cases: Array<[string, string, number, string?]> = [
      ['GET', '/kv/', 400],
      ['GET', '/kv/%E0%A4%A', 400],
      ['GET', '/kv/a?stale=maybe', 400],
      ['GET', `/kv/${'k'.repeat(1025)}`, 400],
      ['GET', '/nowhere', 404],
      ['POST', '/kv/a', 405],
      ['DELETE', '/status', 405],
      ['PUT', '/kv/big', 413, 'x'.repeat(1024 * 1024 + 1)],
    ];
    for (const [method, path, status, body] of cases) {
      const reply = await http(method, `${url}${path}`, body);
      expect({ method, path, status: reply.status }).toEqual({ method, path, status });
      expect(JSON.parse(reply.text)).toHaveProperty('error');
    }
    expect((await http('POST', `${url}/kv/a`)).headers.get('allow')).toBe('GET, PUT, DELETE');
  });
});

describe('a node that knows no leader', () => {
  let c: TestCluster;

  beforeAll(async () => {
    // One node of three: it can never win an election.
    c = await TestCluster.create([1, 2, 3]);
    await c.start(1, true);
  });
  afterAll(() => c?.destroy());

  it('answers 503 with Retry-After to reads and writes', async () => {
    for (const [method, body] of [['GET'], ['PUT', 'v'], ['DELETE']] as const) {
      const reply = await http(method, `${c.node(1).url}/kv/k`, body);
      expect(reply.status).toBe(503);
      expect(reply.headers.get('retry-after')).toBe('1');
      expect(JSON.parse(reply.text)).toMatchObject({ error: 'no_leader', leader: null });
    }
  });

  it('still serves stale reads and /status', async () => {
    expect((await http('GET', `${c.node(1).url}/kv/k?stale=true`)).status).toBe(404);
    const st = JSON.parse((await http('GET', `${c.node(1).url}/status`)).text) as Record<string, unknown>;
    expect(st).toMatchObject({ id: 1, leader: null, members: [1, 2, 3] });
  });
});

describe('error statuses', () => {
  // A node whose every request fails with `error`: these outcomes depend on
  // load and timing in a real cluster, and only the mapping is under test.
  async function serverFailingWith(error: Error): Promise<{ url: string; close(): Promise<void> }> {
    const node = {
      id: 1,
      propose: () => Promise.reject(error),
      read: () => Promise.reject(error),
      status: () => ({ leader: 1 }),
    } as unknown as RaftNode<KvResult>;
    const server = new KvServer({ node, store: new KvStateMachine() });
    const url = await server.listen('127.0.0.1', 0);
    return { url, close: () => server.close() };
  }

  it('maps backpressure to 429 with Retry-After', async () => {
    const s = await serverFailingWith(new ErrBackpressure(4096, 0));
    try {
      const reply = await http('PUT', `${s.url}/kv/k`, 'v');
      expect(reply.status).toBe(429);
      expect(reply.headers.get('retry-after')).toBe('1');
      expect(JSON.parse(reply.text)).toMatchObject({ error: 'backpressure' });
    } finally {
      await s.close();
    }
  });

  it('maps a timeout to 504, saying a write may still be applied', async () => {
    const s = await serverFailingWith(new ErrProposalTimeout('propose', 10_000));
    try {
      const reply = await http('PUT', `${s.url}/kv/k`, 'v');
      expect(reply.status).toBe(504);
      expect(JSON.parse(reply.text)).toMatchObject({ error: 'timeout', outcome: 'unknown' });
    } finally {
      await s.close();
    }
  });
});
