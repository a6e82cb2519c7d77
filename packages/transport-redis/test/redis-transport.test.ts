// What the conformance suite cannot know about Redis: bytes stored as
// bytes, chunks as stream entries, keys per cluster, trimming, auth, the
// caller's own client, and surviving a Redis restart.
import type { Socket } from 'node:net';
import { MessageType, newConfState, newEntry, newMessage, type Message } from '@raftbus/core';
import { Framer } from '@raftbus/framing';
import { deleteClusterKeys, findRedis, redisServerBinary, SeededRandom, sleep, startPrivateRedis, waitFor, whyNo, type PrivateServer, type ServerHandle } from '@raftbus/testkit';
import { Redis, type RedisOptions } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MAX_FRAME_BYTES, RedisTransport, inboxKey, type RedisTransportLogger, type RedisTransportOptions } from '../src/index.js';

const noRedis = whyNo('redis');
const canSpawn = (redisServerBinary() !== undefined);
const spawnNote = canSpawn ? '' : ' (skipped: needs a redis-server binary the test can start and kill; install redis-server)';

interface Node {
  transport: RedisTransport;
  inbox: Message[];
  unreachable: number[];
}

let running: RedisTransport[] = [];
let clients: Redis[] = [];
const rng = new SeededRandom(7);
let clusterSeq = 0;
const clustersUsed = new Set<string>();

afterEach(async () => {
  await Promise.all(running.map((t) => t.stop()));
  for (const c of clients) c.disconnect();
  running = [];
  clients = [];
});

/** A cluster id no other test (or earlier run on a shared Redis) uses. */
function freshCluster(): string {
  const id = `rt-${Date.now().toString(36)}-${process.pid}-${++clusterSeq}`;
  clustersUsed.add(id);
  return id;
}

async function startNode(id: number, clusterId: string, options: RedisTransportOptions): Promise<Node> {
  const transport = new RedisTransport(options);
  running.push(transport);
  const node: Node = { transport, inbox: [], unreachable: [] };
  await transport.start(clusterId, id, {
    onMessage: (m) => node.inbox.push(m),
    onUnreachable: (peer) => node.unreachable.push(peer),
  });
  return node;
}

/** An ioredis client the test owns (closed after the test). */
function client(target: string, options: RedisOptions = {}): Redis {
  const c = new Redis(target, options);
  c.on('error', () => {});
  clients.push(c);
  return c;
}

/** A logger that keeps its lines ("<level> <text>"). */
function capturingLogger(): { logger: RedisTransportLogger; lines: string[] } {
  const lines: string[] = [];
  const keep = (level: string) => (msg: string) => void lines.push(`${level} ${msg}`);
  return { lines, logger: { debug: keep('debug'), info: keep('info'), warning: keep('warning'), error: keep('error') } };
}

/** Far above the caller timeouts below, so an XREAD outlives them. */
const READER_BLOCK_MS = 1_000;
const CALLER_TIMEOUT_MS = 50;

function heartbeat(from: number, to: number, index: number): Message {
  return newMessage({ type: MessageType.MsgHeartbeat, from, to, term: 1, index });
}

describe.skipIf(noRedis !== undefined)(`RedisTransport on Redis${noRedis ? ` (skipped: ${noRedis})` : ''}`, () => {
  let service: ServerHandle;
  let url = '';
  beforeAll(async () => {
    service = await findRedis();
    url = service.url;
  });
  afterAll(async () => {
    if (service === undefined) return;
    await deleteClusterKeys(() => new Redis(service.url), clustersUsed);
    await service.stop();
  });

  it('names inboxes raftbus:{cluster}:inbox:node, so a cluster shares one hash slot', () => {
    expect(inboxKey('payments', 3)).toBe('raftbus:{payments}:inbox:3');
    expect(inboxKey('x', 12)).not.toBe(inboxKey('x1', 2));
  });

  it('stores frames as bytes and delivers binary payloads intact', async () => {
    const cluster = freshCluster();
    const a = await startNode(1, cluster, { url });
    const b = await startNode(2, cluster, { url });
    const every = Uint8Array.from({ length: 1024 }, (_, i) => i % 256);
    // Not UTF-8: a lone continuation byte, an overlong encoding, a surrogate, NULs.
    const invalidUtf8 = Uint8Array.from([0x80, 0xc0, 0xaf, 0xed, 0xa0, 0x80, 0x00, 0xff, 0xfe, 0x00]);
    const sent = newMessage({
      type: MessageType.MsgApp,
      from: 1,
      to: 2,
      term: 3,
      index: 10,
      logTerm: 3,
      commit: 9,
      entries: [newEntry({ index: 11, term: 3, data: every }), newEntry({ index: 12, term: 3, data: invalidUtf8 })],
    });
    a.transport.send([sent]);
    await waitFor(() => b.inbox.length === 1, 10_000, 'the message at node 2');
    expect(Buffer.from(b.inbox[0]!.entries[0]!.data).equals(Buffer.from(every))).toBe(true);
    expect(Buffer.from(b.inbox[0]!.entries[1]!.data).equals(Buffer.from(invalidUtf8))).toBe(true);

    // On Redis, the entry's value holds the payload bytes verbatim (a string
    // conversion would have replaced the invalid UTF-8).
    const admin = client(url);
    const entries = await admin.xrangeBuffer(inboxKey(cluster, 2), '-', '+');
    expect(entries).toHaveLength(1);
    const [, fields] = entries[0]!;
    expect(fields[0]!.toString()).toBe('f');
    expect(fields[1]!.indexOf(Buffer.from(invalidUtf8))).toBeGreaterThan(0);
    expect(fields[1]!.indexOf(Buffer.from(every))).toBeGreaterThan(0);
  });

  it('splits a 3 MiB message into stream entries of at most maxFrameBytes, delivered whole', async () => {
    const cluster = freshCluster();
    const a = await startNode(1, cluster, { url });
    const b = await startNode(2, cluster, { url });
    const data = rng.bytes(3 * 1024 * 1024);
    const snap = newMessage({
      type: MessageType.MsgSnap,
      from: 1,
      to: 2,
      term: 4,
      snapshot: { data, metadata: { index: 100, term: 4, confState: newConfState({ voters: [1, 2, 3] }) } },
    });
    a.transport.send([snap]);
    await waitFor(() => b.inbox.length === 1, 20_000, 'the snapshot at node 2');
    expect(Buffer.from(b.inbox[0]!.snapshot!.data).equals(Buffer.from(data))).toBe(true);
    expect(b.inbox[0]!.snapshot!.metadata.index).toBe(100);

    const admin = client(url);
    const entries = await admin.xrangeBuffer(inboxKey(cluster, 2), '-', '+');
    expect(entries.length).toBeGreaterThanOrEqual(Math.ceil(data.length / DEFAULT_MAX_FRAME_BYTES));
    for (const [, fields] of entries) expect(fields[1]!.length).toBeLessThanOrEqual(DEFAULT_MAX_FRAME_BYTES);
    expect(a.transport.stats()).toMatchObject({ sent: 1, sendFailures: 0 });
    expect(b.transport.stats()).toMatchObject({ received: 1, dropped: 0 });
  });

  it('puts the messages of one send() to a peer in one stream entry, so its reader wakes once for all of them', async () => {
    const cluster = freshCluster();
    const a = await startNode(1, cluster, { url });
    const b = await startNode(2, cluster, { url });
    const c = await startNode(3, cluster, { url });
    a.transport.send([heartbeat(1, 2, 1), heartbeat(1, 3, 2), heartbeat(1, 2, 3), heartbeat(1, 2, 4), heartbeat(1, 3, 5)]);
    await waitFor(() => b.inbox.length === 3 && c.inbox.length === 2, 10_000, 'the heartbeats at nodes 2 and 3');
    // In the order sent, none twice.
    expect(b.inbox.map((m) => m.index)).toEqual([1, 3, 4]);
    expect(c.inbox.map((m) => m.index)).toEqual([2, 5]);

    const admin = client(url);
    const toB = await admin.xrangeBuffer(inboxKey(cluster, 2), '-', '+');
    expect(toB).toHaveLength(1);
    expect(toB[0]![1].filter((_, i) => i % 2 === 0).map(String)).toEqual(['f', 'f', 'f']);
    expect(await admin.xlen(inboxKey(cluster, 3))).toBe(1);
    expect(a.transport.stats()).toMatchObject({ sent: 5, sendFailures: 0 });
  });

  it('writes the XADDs of one send() to the socket in one write, before send() returns', async () => {
    // A node sends, then starts its save and its applies in the same turn:
    // its messages must not wait for those.
    const cluster = freshCluster();
    const mine = client(url);
    const a = await startNode(1, cluster, { client: mine });
    const b = await startNode(2, cluster, { url });
    const c = await startNode(3, cluster, { url });
    const socket = mine.stream as Socket;
    const writes: number[] = [];
    const writev = socket._writev!.bind(socket);
    const write = socket._write.bind(socket);
    socket._writev = (chunks, callback) => {
      writes.push(chunks.length);
      writev(chunks, callback);
    };
    socket._write = (chunk, encoding, callback) => {
      writes.push(1);
      write(chunk, encoding, callback);
    };
    a.transport.send([heartbeat(1, 2, 1), heartbeat(1, 3, 2)]);
    expect(writes).toEqual([2]);
    expect(socket.writableCorked).toBe(0);
    await waitFor(() => b.inbox.length === 1 && c.inbox.length === 1, 10_000, 'the heartbeats at nodes 2 and 3');
  });

  it("leaves a cork of the client's owner to its owner", async () => {
    const cluster = freshCluster();
    const mine = client(url);
    const a = await startNode(1, cluster, { client: mine });
    const b = await startNode(2, cluster, { url });
    const socket = mine.stream as Socket;
    socket.cork();
    a.transport.send([heartbeat(1, 2, 1)]);
    expect(socket.writableCorked).toBe(1);
    socket.uncork();
    await waitFor(() => b.inbox.length === 1, 10_000, 'the heartbeat at node 2');
  });

  it('fills an entry with whole messages up to maxFrameBytes of frames, then starts the next', async () => {
    const cluster = freshCluster();
    const maxFrameBytes = 4096;
    const a = await startNode(1, cluster, { url, maxFrameBytes });
    const b = await startNode(2, cluster, { url, maxFrameBytes });
    // Each framed message is a little over 1 KiB: three fit in an entry, four do not.
    const sent = Array.from({ length: 7 }, (_, i) =>
      newMessage({ type: MessageType.MsgApp, from: 1, to: 2, term: 1, index: i, entries: [newEntry({ index: i + 1, term: 1, data: rng.bytes(1000) })] }),
    );
    a.transport.send(sent);
    await waitFor(() => b.inbox.length === 7, 10_000, 'the appends at node 2');
    expect(b.inbox.map((m) => m.index)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    b.inbox.forEach((m, i) => expect(Buffer.from(m.entries[0]!.data).equals(Buffer.from(sent[i]!.entries[0]!.data))).toBe(true));

    const admin = client(url);
    const entries = await admin.xrangeBuffer(inboxKey(cluster, 2), '-', '+');
    expect(entries.map(([, fields]) => fields.length / 2)).toEqual([3, 3, 1]);
    for (const [, fields] of entries) {
      const frameBytes = fields.filter((_, i) => i % 2 === 1).reduce((n, f) => n + f.length, 0);
      expect(frameBytes).toBeLessThanOrEqual(maxFrameBytes);
    }
  });

  it('keeps clusters apart on one Redis: separate keys, and a stray frame from another cluster is dropped and counted', async () => {
    const one = freshCluster();
    const two = freshCluster();
    const a1 = await startNode(1, one, { url });
    const a2 = await startNode(2, one, { url });
    const b1 = await startNode(1, two, { url });
    const b2 = await startNode(2, two, { url });
    a1.transport.send([heartbeat(1, 2, 1)]);
    b1.transport.send([heartbeat(1, 2, 2)]);
    await waitFor(() => a2.inbox.length === 1 && b2.inbox.length === 1, 10_000, 'one message in each cluster');

    // A frame of cluster `one` written straight into cluster `two`'s inbox
    // (a misconfigured node, or a key collision): the envelope refuses it.
    const stray = new Framer(one, 1, { maxFrameBytes: DEFAULT_MAX_FRAME_BYTES }).encode(heartbeat(1, 2, 3));
    const admin = client(url);
    await admin.xadd(inboxKey(two, 2), '*', 'f', Buffer.from(stray[0]!));
    await waitFor(() => b2.transport.stats().dropped === 1, 10_000, 'the stray frame counted as dropped');
    expect(b2.transport.stats().drops.wrongCluster).toBe(1);
    await sleep(100);
    expect(a2.inbox.map((m) => m.index)).toEqual([1]);
    expect(b2.inbox.map((m) => m.index)).toEqual([2]);
    expect(a1.inbox).toEqual([]);
    expect(b1.inbox).toEqual([]);
  });

  it('with a cluster key, drops (and counts) frames signed with another key', async () => {
    const cluster = freshCluster();
    const a = await startNode(1, cluster, { url, key: 'right key' });
    const b = await startNode(2, cluster, { url, key: 'right key' });
    const intruder = await startNode(3, cluster, { url, key: 'wrong key' });
    intruder.transport.send([heartbeat(3, 2, 1)]);
    a.transport.send([heartbeat(1, 2, 2)]);
    await waitFor(() => b.inbox.length === 1 && b.transport.stats().dropped === 1, 10_000, 'one delivered, one dropped');
    expect(b.inbox[0]!.index).toBe(2);
    expect(b.transport.stats().drops.badMac).toBe(1);
  });

  it('trims inboxes approximately to maxlen', async () => {
    const cluster = freshCluster();
    const a = await startNode(1, cluster, { url, maxlen: 10 });
    for (let i = 1; i <= 500; i++) a.transport.send([heartbeat(1, 2, i)]);
    await waitFor(() => a.transport.stats().sent === 500, 10_000, '500 sent');
    const length = await client(url).xlen(inboxKey(cluster, 2));
    // `~` trims whole stream nodes (100 entries by default), never below maxlen.
    expect(length).toBeGreaterThanOrEqual(10);
    expect(length).toBeLessThan(500);
  });

  it("uses the caller's client to publish, reads through a duplicate, and never closes the caller's client", async () => {
    const cluster = freshCluster();
    const mine = client(url);
    const a = await startNode(1, cluster, { client: mine });
    const b = await startNode(2, cluster, { client: mine });
    a.transport.send([heartbeat(1, 2, 1)]);
    b.transport.send([heartbeat(2, 1, 2)]);
    await waitFor(() => a.inbox.length === 1 && b.inbox.length === 1, 10_000, 'a message each way');
    await a.transport.stop();
    await b.transport.stop();
    expect(mine.status).toBe('ready');
    expect(await mine.ping()).toBe('PONG');
  });

  // Publisher and reader both take the prefix from their own connection:
  // the caller's client (or its duplicate), or one made from the options.
  it.each<[string, () => RedisTransportOptions]>([
    ["the caller's client", () => ({ client: client(url, { keyPrefix: 'app:' }) })],
    ['the options', () => ({ url, redis: { keyPrefix: 'app:' } })],
  ])('keeps the keyPrefix of %s: inboxes live under it, both ways', async (_, options) => {
    const cluster = freshCluster();
    const a = await startNode(1, cluster, options());
    const b = await startNode(2, cluster, options());
    a.transport.send([heartbeat(1, 2, 1)]);
    b.transport.send([heartbeat(2, 1, 2)]);
    await waitFor(() => a.inbox.length === 1 && b.inbox.length === 1, 10_000, 'a message each way');
    const admin = client(url);
    expect(await admin.xlen(`app:${inboxKey(cluster, 2)}`)).toBe(1);
    expect(await admin.xlen(`app:${inboxKey(cluster, 1)}`)).toBe(1);
    expect(await admin.exists(inboxKey(cluster, 1), inboxKey(cluster, 2))).toBe(0);
    await admin.del(`app:${inboxKey(cluster, 1)}`, `app:${inboxKey(cluster, 2)}`);
  });

  it("connects a lazyConnect client it is given", async () => {
    const cluster = freshCluster();
    const lazy = client(url, { lazyConnect: true });
    const a = await startNode(1, cluster, { client: lazy });
    const b = await startNode(2, cluster, { url });
    a.transport.send([heartbeat(1, 2, 1)]);
    await waitFor(() => b.inbox.length === 1, 10_000, 'the message at node 2');
    expect(lazy.status).toBe('ready');
  });

  it('stop() returns promptly while the reader is blocked in XREAD, and is idempotent', async () => {
    const cluster = freshCluster();
    const a = await startNode(1, cluster, { url, blockMs: 30_000 });
    await sleep(50);
    const t0 = Date.now();
    await Promise.all([a.transport.stop(), a.transport.stop()]);
    await a.transport.stop();
    expect(Date.now() - t0).toBeLessThan(1_000);
  });

  it('refuses invalid options at construction', () => {
    expect(() => new RedisTransport({ url, maxlen: 0 })).toThrow(/maxlen/);
    expect(() => new RedisTransport({ url, blockMs: 1.5 })).toThrow(/blockMs/);
    expect(() => new RedisTransport({ url, readCount: -1 })).toThrow(/readCount/);
    expect(() => new RedisTransport({ client: new Redis({ lazyConnect: true }), url } as never)).toThrow(/either/);
  });

  // The caller's timeouts must not reach the blocking reader: commandTimeout rejects an XREAD BLOCK unanswered after 50 ms ("Command
  // timed out"); socketTimeout destroys a socket that receives nothing for
  // 50 ms. Either way the reader's XREAD fails, which it logs as a warning,
  // then backs off: messages arrive late. Nothing goes wrong while idle with
  // them kept off the reader's connection.
  it.each<[string, RedisOptions]>([
    ['commandTimeout', { commandTimeout: CALLER_TIMEOUT_MS }],
    ['socketTimeout', { socketTimeout: CALLER_TIMEOUT_MS }],
  ])('a %s below blockMs, in the given client, the options or the URL, leaves the reader blocking undisturbed', async (name, timeout) => {
    const cluster = freshCluster();
    const { logger, lines } = capturingLogger();
    const trouble = () => lines.filter((l) => l.startsWith('warning') || l.startsWith('error'));
    const sender = await startNode(1, cluster, { url });
    const viaClient = await startNode(2, cluster, { client: client(url, timeout), blockMs: READER_BLOCK_MS, logger });
    const viaOptions = await startNode(3, cluster, { url, redis: timeout, blockMs: READER_BLOCK_MS, logger });
    // ioredis reads options from the URL's query too, ahead of the options object.
    const viaUrl = await startNode(4, cluster, { url: `${url}${url.includes('?') ? '&' : '?'}${name}=${CALLER_TIMEOUT_MS}`, blockMs: READER_BLOCK_MS, logger });
    // Idle well past the timeout and past one BLOCK: each reader has waited
    // in an XREAD far longer than the timeout, then in the next one.
    await sleep(READER_BLOCK_MS + 500);
    sender.transport.send([heartbeat(1, 2, 1), heartbeat(1, 3, 2), heartbeat(1, 4, 3)]);
    await waitFor(() => viaClient.inbox.length === 1 && viaOptions.inbox.length === 1 && viaUrl.inbox.length === 1, 10_000, 'the message at nodes 2, 3 and 4');
    expect(trouble()).toEqual([]);
    // The publishing side keeps the caller's timeout: theirs to choose, and XADD answers at once.
    viaClient.transport.send([heartbeat(2, 3, 3)]);
    viaOptions.transport.send([heartbeat(3, 2, 4)]);
    await waitFor(() => viaClient.inbox.length === 2 && viaOptions.inbox.length === 2, 10_000, 'a message each way between nodes 2 and 3');
    expect(trouble()).toEqual([]);
  });

});

describe(`RedisTransport without a Redis to reach${spawnNote}`, () => {
  it.skipIf(!canSpawn)('start() rejects with the connection error and leaves nothing retrying', async () => {
    const server = await startPrivateRedis();
    const port = server.port;
    await server.stop();
    const { logger, lines } = capturingLogger();
    const t = new RedisTransport({ url: `redis://127.0.0.1:${port}`, logger });
    await expect(t.start('c', 1, { onMessage: () => {} })).rejects.toThrow(/ECONNREFUSED/);
    await t.stop();
    const seen = lines.length;
    await sleep(500);
    expect(lines.length).toBe(seen);
  });
});

describe.skipIf(!canSpawn)(`RedisTransport with authentication${spawnNote}`, () => {
  let server: PrivateServer;
  beforeAll(async () => {
    server = await startPrivateRedis(['--requirepass', 'topsecret', '--user', 'alice', 'on', '>alicepw', '~raftbus:*', '+@all']);
  });
  afterAll(() => server?.stop());

  it('authenticates with a password in the URL, an ACL user in the options, or through the given client', async () => {
    const cluster = freshCluster();
    const a = await startNode(1, cluster, { url: `redis://:topsecret@127.0.0.1:${server.port}` });
    const b = await startNode(2, cluster, { url: server.url, redis: { username: 'alice', password: 'alicepw' } });
    const c = await startNode(3, cluster, { client: client(server.url, { username: 'alice', password: 'alicepw' }) });
    a.transport.send([heartbeat(1, 2, 1), heartbeat(1, 3, 2)]);
    b.transport.send([heartbeat(2, 1, 3)]);
    c.transport.send([heartbeat(3, 1, 4)]);
    await waitFor(() => a.inbox.length === 2 && b.inbox.length === 1 && c.inbox.length === 1, 10_000, 'messages between all three');
    expect(a.inbox.map((m) => m.index).sort()).toEqual([3, 4]);
  });

  it('start() rejects on a wrong password, without crashing or retrying forever', async () => {
    const t = new RedisTransport({ url: server.url, redis: { username: 'alice', password: 'wrong' } });
    await expect(t.start(freshCluster(), 1, { onMessage: () => {} })).rejects.toThrow(/WRONGPASS/);
    await t.stop();
    const anonymous = new RedisTransport({ url: server.url });
    await expect(anonymous.start(freshCluster(), 1, { onMessage: () => {} })).rejects.toThrow(/NOAUTH/);
    await anonymous.stop();
  });
});

describe.skipIf(!canSpawn)(`RedisTransport across a Redis restart${spawnNote}`, () => {
  let server: PrivateServer;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  beforeAll(async () => {
    server = await startPrivateRedis();
    process.on('unhandledRejection', onUnhandled);
    process.on('uncaughtException', onUnhandled);
  });
  afterAll(async () => {
    process.off('unhandledRejection', onUnhandled);
    process.off('uncaughtException', onUnhandled);
    await server?.stop();
  });

  it('counts sends while Redis is down as failures, reports the peer unreachable, and resumes by itself when Redis is back', async () => {
    const cluster = freshCluster();
    const { logger, lines } = capturingLogger();
    // One node on connections of its own, one on the caller's client.
    const a = await startNode(1, cluster, { url: server.url, logger });
    const b = await startNode(2, cluster, { client: client(server.url), logger });
    a.transport.send([heartbeat(1, 2, 1)]);
    b.transport.send([heartbeat(2, 1, 2)]);
    await waitFor(() => a.inbox.length === 1 && b.inbox.length === 1, 10_000, 'a message each way before the restart');

    await server.kill();
    await waitFor(
      () => {
        a.transport.send([heartbeat(1, 2, 3)]);
        b.transport.send([heartbeat(2, 1, 4)]);
        return a.transport.stats().sendFailures > 0 && b.transport.stats().sendFailures > 0;
      },
      10_000,
      'sends failing while Redis is down',
    );
    await waitFor(() => a.unreachable.includes(2) && b.unreachable.includes(1), 1_000, 'both peers reported unreachable');
    const failed = a.transport.stats().sendFailures;
    expect(() => a.transport.send([heartbeat(1, 2, 5)])).not.toThrow();
    await waitFor(() => a.transport.stats().sendFailures > failed, 1_000, 'a send while down counted at once');
    await sleep(300);

    await server.restart();
    // No operator action: keep sending, as raft would, until messages flow again both ways.
    let i = 100;
    await waitFor(
      () => {
        a.transport.send([heartbeat(1, 2, i)]);
        b.transport.send([heartbeat(2, 1, i)]);
        i++;
        return a.inbox.some((m) => m.index >= 100) && b.inbox.some((m) => m.index >= 100);
      },
      20_000,
      'messages flowing both ways after the restart',
    );
    // Once reconnected, nothing is lost and order holds.
    const before = b.inbox.length;
    const burst = Array.from({ length: 200 }, (_, k) => heartbeat(1, 2, 10_000 + k));
    for (const m of burst) a.transport.send([m]);
    await waitFor(() => b.inbox.filter((m) => m.index >= 10_000).length === 200, 10_000, '200 messages after the restart');
    expect(b.inbox.slice(before).filter((m) => m.index >= 10_000).map((m) => m.index)).toEqual(burst.map((m) => m.index));
    // The outage was logged, as a warning and then a recovery, never thrown.
    expect(lines.some((l) => l.startsWith(`warning transport-redis ${cluster}/2: reading`))).toBe(true);
    expect(lines.some((l) => l.startsWith(`info transport-redis ${cluster}/2: reading`))).toBe(true);
    expect(lines.filter((l) => l.startsWith('error'))).toEqual([]);
    expect(unhandled).toEqual([]);
  });

  it('a reader whose connection drops resumes from the last id it saw: nothing sent meanwhile is lost', async () => {
    const cluster = freshCluster();
    const a = await startNode(1, cluster, { url: server.url });
    const b = await startNode(2, cluster, { url: server.url });
    a.transport.send([heartbeat(1, 2, 1)]);
    await waitFor(() => b.inbox.length === 1, 10_000, 'the first message');

    // Kill only node 2's reader connection (the one blocked in XREAD on its inbox).
    const admin = client(server.url);
    const list = (await admin.client('LIST')) as string;
    const readers = list.split('\n').filter((line) => line.includes('cmd=xread'));
    expect(readers.length).toBeGreaterThanOrEqual(2);
    const ids = readers.map((line) => /\bid=(\d+)/.exec(line)![1]!);
    for (const id of ids) await admin.client('KILL', 'ID', id);
    // These land in the stream while the readers reconnect.
    for (let k = 2; k <= 50; k++) a.transport.send([heartbeat(1, 2, k)]);
    await waitFor(() => b.inbox.length === 50, 10_000, 'all 50 messages');
    expect(b.inbox.map((m) => m.index)).toEqual(Array.from({ length: 50 }, (_, k) => k + 1));
    expect(a.transport.stats().sendFailures).toBe(0);
    expect(unhandled).toEqual([]);
  });
});
