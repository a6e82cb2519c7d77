// What NATS adds to the conformance suite: binary bytes through the text
// protocol, chunking at the server's max_payload, subjects for any cluster
// id, auth, a connection the application owns, and outages.
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { ErrInvalidConfig, MessageType, encodeMessage, newEntry, newMessage, newSnapshot, type Message } from '@raftbus/core';
import { SeededRandom, findNats, freePort, privateServerUnavailable, sleep, startPrivateNats, waitFor, whyNo, type PrivateNats, type ServerHandle } from '@raftbus/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_MAX_PAYLOAD,
  NatsTransport,
  clusterSubject,
  clusterToken,
  maxFrameBytesFor,
  natsSubject,
  type NatsTransportLogger,
  type NatsTransportOptions,
} from '../src/index.js';

const noNats = whyNo('nats');
const noLocalServer = noNats ?? privateServerUnavailable('nats');
const title = (name: string, skipReason: string | undefined) => (skipReason === undefined ? name : `${name} (skipped: ${skipReason})`);

const text = new TextEncoder();
const rng = new SeededRandom(0x4a75);
let clusterSeq = 0;
/** Unique per test, so that runs sharing a server (RAFTBUS_NATS_URL) never hear each other. */
const freshCluster = () => `nats-test-${process.pid}-${Date.now().toString(36)}-${++clusterSeq}`;

interface Node {
  id: number;
  transport: NatsTransport;
  inbox: Message[];
  unreachable: number[];
}

interface LogLine {
  level: 'debug' | 'info' | 'warning' | 'error';
  msg: string;
}

function recordingLogger(lines: LogLine[] = []): NatsTransportLogger & { lines: LogLine[] } {
  return {
    lines,
    debug: (msg) => lines.push({ level: 'debug', msg }),
    info: (msg) => lines.push({ level: 'info', msg }),
    warning: (msg) => lines.push({ level: 'warning', msg }),
    error: (msg) => lines.push({ level: 'error', msg }),
  };
}

/** Transports started by a test, stopped after it. */
const started: NatsTransport[] = [];
/** Connections a test opened, closed after it. */
const opened: NatsConnection[] = [];

afterEach(async () => {
  for (const t of started.splice(0)) await t.stop();
  for (const nc of opened.splice(0)) if (!nc.isClosed()) await nc.close();
});

async function join(clusterId: string, id: number, options: NatsTransportOptions): Promise<Node> {
  const transport = new NatsTransport({ logger: recordingLogger(), ...options });
  const node: Node = { id, transport, inbox: [], unreachable: [] };
  await transport.start(clusterId, id, {
    onMessage: (m) => node.inbox.push(m),
    onUnreachable: (peer) => node.unreachable.push(peer),
  });
  started.push(transport);
  return node;
}

async function open(url: string, options: { token?: string } = {}): Promise<NatsConnection> {
  const nc = await connect({ servers: url, ...options });
  opened.push(nc);
  return nc;
}

/** Every NATS message on a subject, as the server delivers it (sizes, count), until close(). */
async function spy(url: string, subject: string): Promise<{ frames: Uint8Array[]; close(): Promise<void> }> {
  const nc = await open(url);
  const frames: Uint8Array[] = [];
  nc.subscribe(subject, { callback: (_err, msg) => void frames.push(msg.data) });
  await nc.flush();
  return { frames, close: () => nc.close() };
}

function marker(from: number, to: number, index: number, clusterId = ''): Message {
  return newMessage({ type: MessageType.MsgHeartbeat, from, to, term: 1, index, context: text.encode(clusterId) });
}

function snapshotOf(from: number, to: number, bytes: number): Message {
  return newMessage({
    type: MessageType.MsgSnap,
    from,
    to,
    term: 3,
    snapshot: newSnapshot({ data: rng.bytes(bytes), metadata: { index: 90, term: 3, confState: { voters: [1, 2, 3], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false } } }),
  });
}

function expectSame(received: Message | undefined, sent: Message): void {
  expect(received).toBeDefined();
  expect(Buffer.compare(encodeMessage(received!), encodeMessage(sent))).toBe(0);
}

const arrived = (node: Node, count: number, what: string, timeoutMs = 10_000) =>
  waitFor(() => node.inbox.length >= count, timeoutMs, `${count} message(s) at node ${node.id}: ${what}`);

describe.skipIf(noNats !== undefined)(title('NatsTransport on a shared server', noNats), () => {
  let nats: ServerHandle;
  beforeAll(async () => {
    nats = await findNats();
  });
  afterAll(() => nats?.stop());

  it('carries binary payloads intact: every byte value, CR LF and protocol-looking text, empty data', async () => {
    const cluster = freshCluster();
    const a = await join(cluster, 1, { servers: nats.url });
    const b = await join(cluster, 2, { servers: nats.url });
    const everyByte = Uint8Array.from({ length: 1024 }, (_, i) => (i * 7) % 256);
    const protocolText = text.encode(`\r\nPUB ${natsSubject(cluster, 2)} 5\r\nhello\r\n+OK\r\n-ERR 'x'\r\nPING\r\n\0`);
    const sent = [
      newMessage({
        type: MessageType.MsgApp,
        from: 1,
        to: 2,
        term: 2,
        index: 10,
        logTerm: 2,
        commit: 9,
        entries: [
          newEntry({ index: 11, term: 2, data: everyByte }),
          newEntry({ index: 12, term: 2, data: protocolText }),
          newEntry({ index: 13, term: 2, data: new Uint8Array(0) }),
          newEntry({ index: 14, term: 2, data: new Uint8Array(4096).fill(0xff) }),
        ],
      }),
      newMessage({ type: MessageType.MsgHeartbeat, from: 1, to: 2, term: 2, context: protocolText }),
      snapshotOf(1, 2, 100 * 1024),
    ];
    a.transport.send(sent);
    await arrived(b, sent.length, 'three binary messages');
    for (const m of sent) expectSame(b.inbox.find((r) => r.type === m.type), m);
    expect(b.transport.stats()).toMatchObject({ received: 3, dropped: 0 });
  });

  it('splits a 3 MiB snapshot into frames within the server max_payload and reassembles it', async () => {
    const cluster = freshCluster();
    const a = await join(cluster, 1, { servers: nats.url });
    const b = await join(cluster, 2, { servers: nats.url });
    const { frames } = await spy(nats.url, natsSubject(cluster, 2));
    const big = snapshotOf(1, 2, 3 * 1024 * 1024);
    a.transport.send([big]);
    await arrived(b, 1, 'the 3 MiB snapshot');
    expectSame(b.inbox[0], big);
    await waitFor(() => frames.length >= 4, 5_000, 'the spy seeing every frame');
    const limit = maxFrameBytesFor(DEFAULT_MAX_PAYLOAD);
    const encoded = encodeMessage(big).length;
    expect(frames.length).toBeGreaterThanOrEqual(Math.ceil(encoded / limit));
    expect(Math.max(...frames.map((f) => f.length))).toBeLessThanOrEqual(limit);
    // Chunks are as large as allowed: the first fills its frame.
    expect(frames[0]!.length).toBe(limit);
    expect(a.transport.stats()).toMatchObject({ sent: 1, sendFailures: 0 });
    expect(b.transport.stats()).toMatchObject({ received: 1, dropped: 0 });
  });

  it('keeps clusters apart on one server whatever their ids hold: dots, wildcards, spaces, escapes', async () => {
    const base = freshCluster();
    // Raw, '*' and '>' would be wildcards listening to other clusters, and
    // 'x.y' would collide with a cluster 'x' node 'y'-something; '%2E' is
    // what an escaped '.' looks like.
    const ids = [base, `${base}.1`, `${base}1`, `${base}*`, `${base}>`, `${base} x`, `${base}%2E1`, `${base}ü`, '*', '>'];
    const subjects: string[] = [];
    const nc = await open(nats.url);
    nc.subscribe('raftbus.>', { callback: (_err, msg) => void subjects.push(msg.subject) });
    await nc.flush();
    const pairs: Array<[string, Node, Node]> = [];
    for (const id of ids) pairs.push([id, await join(id, 1, { servers: nats.url }), await join(id, 2, { servers: nats.url })]);
    for (const [id, one, two] of pairs) {
      one.transport.send([marker(1, 2, 1, id), marker(1, 2, 2, id)]);
      two.transport.send([marker(2, 1, 3, id)]);
    }
    for (const [id, one, two] of pairs) {
      await arrived(two, 2, `cluster ${id}`);
      await arrived(one, 1, `cluster ${id}`);
    }
    await sleep(200);
    const decoder = new TextDecoder();
    for (const [id, one, two] of pairs) {
      for (const n of [one, two]) {
        expect(new Set(n.inbox.map((m) => decoder.decode(m.context))), `clusters heard by ${id}/${n.id}`).toEqual(new Set([id]));
        // Nothing foreign even reached the framing layer: the subjects kept them apart.
        expect(n.transport.stats().dropped, `frames dropped at ${id}/${n.id}`).toBe(0);
      }
      expect(two.inbox.map((m) => m.index).sort()).toEqual([1, 2]);
    }
    await waitFor(() => subjects.length >= 3 * ids.length, 5_000, 'the spy seeing every frame');
    const distinct = new Set(subjects);
    expect(distinct.size).toBe(2 * ids.length);
    for (const s of distinct) expect(s.split('.'), s).toHaveLength(3);
  });

  it('publishes a message sent alike to several nodes once, to the cluster subject; multicast: false, once per node', async () => {
    // The followers' setting does not matter: every node listens on the cluster subject.
    for (const multicast of [true, false]) {
      const cluster = freshCluster();
      const subjects: string[] = [];
      const nc = await open(nats.url);
      nc.subscribe(`raftbus.${clusterToken(cluster)}.>`, { callback: (_err, msg) => void subjects.push(msg.subject) });
      await nc.flush();
      const [a, b, c] = [await join(cluster, 1, { servers: nats.url, multicast }), await join(cluster, 2, { servers: nats.url, multicast: !multicast }), await join(cluster, 3, { servers: nats.url })];
      const entries = [newEntry({ term: 2, index: 8, data: rng.bytes(300) })];
      const append = (to: number) => newMessage({ type: MessageType.MsgApp, from: 1, to, term: 2, logTerm: 2, index: 7, commit: 7, entries });
      a!.transport.send([append(2), append(3)]);
      await arrived(b!, 1, 'the append to 2');
      await arrived(c!, 1, 'the append to 3');
      expectSame(b!.inbox[0], append(2));
      expectSame(c!.inbox[0], append(3));
      await waitFor(() => subjects.length >= (multicast ? 1 : 2), 5_000, 'the spy seeing the publications');
      await sleep(100);
      expect(subjects, `multicast: ${multicast}`).toEqual(multicast ? [clusterSubject(clusterToken(cluster))] : [natsSubject(cluster, 2), natsSubject(cluster, 3)]);
      // The sender's own client does not echo its publication back; nothing was dropped anywhere.
      expect(a!.inbox).toHaveLength(0);
      for (const n of [a!, b!, c!]) expect(n.transport.stats()).toMatchObject({ dropped: 0, sendFailures: 0 });
      expect(a!.transport.stats().sent).toBe(2);
    }
  });

  it('on one connection shared by the nodes, each named node gets a publication to all once, and the sender passes over its own', async () => {
    const cluster = freshCluster();
    const nc = await open(nats.url);
    const [a, b, c] = [await join(cluster, 1, { connection: nc }), await join(cluster, 2, { connection: nc }), await join(cluster, 3, { connection: nc })];
    a!.transport.send([marker(1, 2, 5), marker(1, 3, 5)]);
    b!.transport.send([marker(2, 1, 6), marker(2, 3, 6)]);
    await arrived(c!, 2, 'both heartbeats at node 3');
    await arrived(b!, 1, 'the heartbeat at node 2');
    await arrived(a!, 1, 'the heartbeat at node 1');
    await sleep(100);
    expect(c!.inbox.map((m) => [m.from, m.to])).toEqual([
      [1, 3],
      [2, 3],
    ]);
    expect(b!.inbox.map((m) => [m.from, m.to])).toEqual([[1, 2]]);
    expect(a!.inbox.map((m) => [m.from, m.to])).toEqual([[2, 1]]);
    for (const n of [a!, b!, c!]) expect(n.transport.stats().dropped).toBe(0);
  });

  it('sizes frames from the server of a connection it is handed, and leaves that connection open', async () => {
    const cluster = freshCluster();
    const nc = await open(nats.url);
    const a = await join(cluster, 1, { connection: nc });
    const b = await join(cluster, 2, { connection: nc });
    const watcher = await spy(nats.url, natsSubject(cluster, 2));
    const { frames } = watcher;
    const big = snapshotOf(1, 2, 2 * nc.info!.max_payload);
    a.transport.send([big]);
    await arrived(b, 1, 'a snapshot of twice max_payload');
    expectSame(b.inbox[0], big);
    await waitFor(() => frames.length >= 3, 5_000, 'the spy seeing every frame');
    expect(frames[0]!.length).toBe(maxFrameBytesFor(nc.info!.max_payload));
    await watcher.close();

    await b.transport.stop();
    await a.transport.stop();
    expect(nc.isClosed()).toBe(false);
    // stop() unsubscribed at the server: nobody answers on node 2's subject any more.
    await waitFor(
      () =>
        nc.request(natsSubject(cluster, 2), new Uint8Array(0), { timeout: 500 }).then(
          () => false,
          (e: Error) => /no responders/i.test(e.message),
        ),
      5_000,
      'no responders on the subject of a stopped node',
    );
  });

  it('counts sends on a shared connection its owner closed as failures, and never throws', async () => {
    const cluster = freshCluster();
    const nc = await open(nats.url);
    const logger = recordingLogger();
    const a = await join(cluster, 1, { connection: nc, logger });
    await nc.close();
    expect(() => a.transport.send([marker(1, 2, 1), marker(1, 3, 2)])).not.toThrow();
    await waitFor(() => a.transport.stats().sendFailures === 2, 5_000, 'two send failures');
    await waitFor(() => a.unreachable.length === 2, 5_000, 'both peers reported unreachable');
    expect(new Set(a.unreachable)).toEqual(new Set([2, 3]));
    expect(logger.lines.some((l) => l.level === 'warning' && /connection closed/.test(l.msg))).toBe(true);
    await a.transport.stop();
  });

  it('survives an onMessage that throws: logged, and the next message still arrives', async () => {
    const cluster = freshCluster();
    const logger = recordingLogger();
    const a = await join(cluster, 1, { servers: nats.url });
    const b = new NatsTransport({ servers: nats.url, logger });
    const heard: number[] = [];
    await b.start(cluster, 2, {
      onMessage: (m) => {
        heard.push(m.index);
        if (m.index === 1) throw new Error('handler bug');
      },
    });
    started.push(b);
    a.transport.send([marker(1, 2, 1)]);
    a.transport.send([marker(1, 2, 2)]);
    await waitFor(() => heard.length === 2, 5_000, 'both messages handled');
    expect(heard).toEqual([1, 2]);
    expect(logger.lines.filter((l) => l.level === 'error').map((l) => l.msg)).toEqual([expect.stringMatching(/handler bug/)]);
  });

  it('refuses client options together with a connection', async () => {
    const nc = await open(nats.url);
    expect(() => new NatsTransport({ connection: nc, servers: nats.url } as unknown as NatsTransportOptions)).toThrow(ErrInvalidConfig);
  });

  it('fails start() when no server answers, and can then be stopped', async () => {
    const port = await freePort();
    const t = new NatsTransport({ servers: `nats://127.0.0.1:${port}`, logger: recordingLogger() });
    await expect(t.start(freshCluster(), 1, { onMessage: () => {} })).rejects.toThrow();
    await t.stop();
  });
});

describe.skipIf(noLocalServer !== undefined)(title('NatsTransport on a server of its own', noLocalServer), () => {
  let server: PrivateNats | undefined;
  afterEach(async () => {
    for (const t of started.splice(0)) await t.stop();
    await server?.stop();
    server = undefined;
  });

  it('authenticates with a token, and fails start() without it', async () => {
    server = await startPrivateNats({ token: 's3cret-token' });
    const cluster = freshCluster();
    const a = await join(cluster, 1, { servers: server.url, token: 's3cret-token' });
    const b = await join(cluster, 2, { servers: server.url, token: 's3cret-token' });
    a.transport.send([marker(1, 2, 7)]);
    await arrived(b, 1, 'a message over an authenticated connection');
    expect(b.inbox[0]!.index).toBe(7);

    for (const token of [undefined, 'wrong']) {
      const t = new NatsTransport({ servers: server.url, ...(token !== undefined && { token }), logger: recordingLogger() });
      await expect(t.start(cluster, 3, { onMessage: () => {} })).rejects.toThrow(/auth/i);
      await t.stop();
    }
  });

  it('authenticates with user and password, and fails start() when the server refuses its subscription', async () => {
    server = await startPrivateNats({
      config: `authorization { users = [
        { user: "node", password: "pw", permissions: { publish: "raftbus.>", subscribe: { allow: "raftbus.>", deny: "raftbus.*.3" } } }
      ] }`,
    });
    const cluster = freshCluster();
    const a = await join(cluster, 1, { servers: server.url, user: 'node', pass: 'pw' });
    const b = await join(cluster, 2, { servers: server.url, user: 'node', pass: 'pw' });
    a.transport.send([marker(1, 2, 5)]);
    await arrived(b, 1, 'a message between user/pass clients');

    const logger = recordingLogger();
    const denied = new NatsTransport({ servers: server.url, user: 'node', pass: 'pw', logger });
    await expect(denied.start(cluster, 3, { onMessage: () => {} })).rejects.toThrow(/permission/i);
    await denied.stop();
    expect(logger.lines.some((l) => l.level === 'error' && /raftbus\.[^ ]+\.3/.test(l.msg))).toBe(true);
  });

  it('stop() during an outage returns at once', async () => {
    server = await startPrivateNats();
    const logger = recordingLogger();
    const a = await join(freshCluster(), 1, { servers: server.url, logger });
    await server.kill();
    await waitFor(() => logger.lines.some((l) => /disconnected/.test(l.msg)), 5_000, 'the outage noticed');
    const t0 = Date.now();
    await a.transport.stop();
    expect(Date.now() - t0).toBeLessThan(1_000);
    expect(logger.lines.filter((l) => l.level === 'error')).toEqual([]);
  });

  it('chunks at a small max_payload taken from a connection, refuses a start whose frames would not fit', async () => {
    const maxPayload = 64 * 1024;
    server = await startPrivateNats({ maxPayload });
    const cluster = freshCluster();
    const nc = await open(server.url);
    expect(nc.info!.max_payload).toBe(maxPayload);
    const a = await join(cluster, 1, { connection: nc });
    const b = await join(cluster, 2, { connection: nc });
    const { frames } = await spy(server.url, natsSubject(cluster, 2));
    const big = snapshotOf(1, 2, 300 * 1024);
    a.transport.send([big]);
    await arrived(b, 1, 'a 300 KiB snapshot in 64 KiB frames');
    expectSame(b.inbox[0], big);
    await waitFor(() => frames.length >= 5, 5_000, 'the spy seeing every frame');
    expect(Math.max(...frames.map((f) => f.length))).toBe(maxFrameBytesFor(maxPayload));

    // A client of its own assumes NATS's default 1 MiB until connected: told otherwise, start() fails, saying what to set.
    const own = new NatsTransport({ servers: server.url, logger: recordingLogger() });
    const refused = own.start(cluster, 3, { onMessage: () => {} });
    await expect(refused).rejects.toThrow(ErrInvalidConfig);
    await expect(refused).rejects.toThrow(`maxFrameBytes: ${maxFrameBytesFor(maxPayload)}`);
    await own.stop();
    const c = await join(cluster, 3, { servers: server.url, maxFrameBytes: 32 * 1024 });
    c.transport.send([snapshotOf(3, 2, 100 * 1024)]);
    await arrived(b, 2, 'a 100 KiB snapshot in 32 KiB frames');
  });

  it('survives a server restart mid-run: sends fail and are counted while it is down, delivery resumes by itself', async () => {
    server = await startPrivateNats();
    const cluster = freshCluster();
    const logs = [recordingLogger(), recordingLogger()];
    const a = await join(cluster, 1, { servers: server.url, logger: logs[0]! });
    const b = await join(cluster, 2, { servers: server.url, logger: logs[1]! });

    // Both directions, all the time, as a leader's heartbeats and the answers are.
    let index = 0;
    let thrown: unknown;
    const ticker = setInterval(() => {
      index++;
      try {
        a.transport.send([marker(1, 2, index)]);
        b.transport.send([marker(2, 1, index)]);
      } catch (e) {
        thrown = e;
      }
    }, 10);
    try {
      await arrived(b, 20, 'traffic before the restart');
      await server.kill();
      await waitFor(() => logs.every((l) => l.lines.some((x) => /disconnected/.test(x.msg))), 5_000, 'both nodes noticing the outage');
      const failuresAtOutage = a.transport.stats().sendFailures;
      await sleep(1_000);
      expect(a.transport.stats().sendFailures, 'sends while the server is down are counted as failures').toBeGreaterThan(failuresAtOutage + 10);
      expect(a.unreachable).toContain(2);
      expect(b.unreachable).toContain(1);

      const lastBefore = index;
      await server.restart();
      await waitFor(() => b.inbox.some((m) => m.index > lastBefore), 10_000, 'node 2 hearing node 1 after the restart');
      await waitFor(() => a.inbox.some((m) => m.index > lastBefore), 10_000, 'node 1 hearing node 2 after the restart');
      for (const l of logs) expect(l.lines.some((x) => x.level === 'info' && /reconnected/.test(x.msg))).toBe(true);
      // And it stays healthy: what is sent now arrives, nothing is failing any more.
      const failuresAfter = a.transport.stats().sendFailures;
      const heardBefore = b.inbox.length;
      await waitFor(() => b.inbox.length >= heardBefore + 20, 5_000, '20 more messages after the restart');
      expect(a.transport.stats().sendFailures).toBe(failuresAfter);
    } finally {
      clearInterval(ticker);
    }
    expect(thrown).toBeUndefined();
    for (const n of [a, b]) expect(n.transport.stats().dropped).toBe(0);
    for (const l of logs) expect(l.lines.filter((x) => x.level === 'error')).toEqual([]);
  });

  it('refuses, and does not throw, a frame larger than the max_payload of the server it reconnected to', async () => {
    server = await startPrivateNats();
    const cluster = freshCluster();
    const a = await join(cluster, 1, { servers: server.url });
    const b = await join(cluster, 2, { servers: server.url });
    // Frames were sized for 1 MiB; the server comes back with 64 KiB.
    await server.restart({ maxPayload: 64 * 1024 });
    await waitFor(() => {
      a.transport.send([marker(1, 2, 1)]);
      return b.inbox.length > 0;
    }, 10_000, 'both nodes reconnected');
    const before = a.transport.stats();
    expect(() => a.transport.send([snapshotOf(1, 2, 512 * 1024)])).not.toThrow();
    await waitFor(() => a.transport.stats().sendFailures === before.sendFailures + 1, 5_000, 'the oversized frames counted as a send failure');
    // Still connected and working for what fits.
    const heard = b.inbox.length;
    a.transport.send([marker(1, 2, 2)]);
    await arrived(b, heard + 1, 'a small message after the refused one');
  });
});
