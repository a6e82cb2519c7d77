// What the conformance suite does not pin down for Kafka: topic naming, the
// options, frames as bytes on a real broker (with and without a key),
// snapshots chunked below the broker's record-batch limit, a node reading
// from where it started, and a client the application owns.
import { randomBytes } from 'node:crypto';
import net, { type Socket } from 'node:net';
import {
  ErrInvalidConfig,
  MessageType,
  encodeMessage,
  newEntry,
  newMessage,
  type Message,
  type TransportHandlers,
} from '@raftbus/core';
import { waitFor } from '@raftbus/testkit';
import { Kafka, logLevel, type ISocketFactory } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_CONSUMER_OPTIONS, DEFAULT_MAX_FRAME_BYTES, KafkaTransport, topicName, type KafkaTransportOptions } from '../src/index.js';
import { collectingLogger } from './collecting-logger.js';
import { deleteTopics, describeWithKafka } from './kafka-server.js';

describe('topic names', () => {
  const legal = /^[A-Za-z0-9._-]{1,249}$/;
  // Kafka refuses a topic whose name equals another's with '.' read as '_'.
  const collisionKey = (name: string) => name.replaceAll('.', '_');

  it('are legal, and distinct for every (cluster, node) even where naive joining or sanitising would merge them', () => {
    const pairs: [string, number][] = [
      ['x', 12],
      ['x1', 2],
      ['team.a', 1],
      ['team_a', 1],
      ['team-a', 1],
      ['team a', 1],
      ['team_2ea', 1],
      ['TEAM.A', 1],
      ['a.1', 2],
      ['a', 12],
      ['é', 1],
      ['e\u0301', 1],
      ['日本', 3],
      ['x'.repeat(255), 1],
      ['x'.repeat(254) + 'y', 1],
    ];
    const names = pairs.map(([cluster, node]) => topicName('raftbus', cluster, node));
    for (const n of names) expect(n).toMatch(legal);
    expect(new Set(names).size).toBe(names.length);
    expect(new Set(names.map(collisionKey)).size).toBe(names.length);
  });

  it('keep readable cluster ids readable', () => {
    expect(topicName('raftbus', 'orders-prod', 3)).toBe('raftbus.orders-prod.3');
    expect(topicName('acme.raft', 'orders.prod', 3)).toBe('acme.raft.orders_2eprod.3');
  });
});

describe('options', () => {
  it('take either brokers or a kafkajs client, and check the topic prefix and frame size', () => {
    const kafka = new Kafka({ brokers: ['127.0.0.1:1'], logLevel: logLevel.NOTHING });
    expect(() => new KafkaTransport({ brokers: ['127.0.0.1:1'] })).not.toThrow();
    expect(() => new KafkaTransport({ kafka })).not.toThrow();
    expect(() => new KafkaTransport({ kafka, brokers: ['127.0.0.1:1'] } as unknown as KafkaTransportOptions)).toThrow(ErrInvalidConfig);
    expect(() => new KafkaTransport({} as KafkaTransportOptions)).toThrow(ErrInvalidConfig);
    expect(() => new KafkaTransport({ brokers: [] })).toThrow(ErrInvalidConfig);
    expect(() => new KafkaTransport({ kafka, topicPrefix: 'no spaces' })).toThrow(ErrInvalidConfig);
    expect(() => new KafkaTransport({ kafka, maxFrameBytes: Number.POSITIVE_INFINITY })).toThrow(ErrInvalidConfig);
    expect(() => new KafkaTransport({ kafka, replicationFactor: 0 })).toThrow(ErrInvalidConfig);
  });

  it('check the consumer settings, which kafkajs would only refuse at start()', () => {
    const kafka = new Kafka({ brokers: ['127.0.0.1:1'], logLevel: logLevel.NOTHING });
    expect(() => new KafkaTransport({ kafka, consumer: { sessionTimeout: 6_000, heartbeatInterval: 2_000 } })).not.toThrow();
    expect(() => new KafkaTransport({ kafka, consumer: { heartbeatInterval: 10_000 } })).toThrow(/below consumer.sessionTimeout/);
    expect(() => new KafkaTransport({ kafka, consumer: { sessionTimeout: 2_000 } })).toThrow(/below consumer.sessionTimeout/);
    expect(() => new KafkaTransport({ kafka, consumer: { rebalanceTimeout: 0 } })).toThrow(ErrInvalidConfig);
    expect(() => new KafkaTransport({ kafka, consumer: { sessionTimeout: Number.NaN } })).toThrow(ErrInvalidConfig);
    expect(DEFAULT_CONSUMER_OPTIONS.heartbeatInterval).toBeLessThan(DEFAULT_CONSUMER_OPTIONS.sessionTimeout);
    // Within the broker's default group.min.session.timeout.ms (6 s) and group.max.session.timeout.ms (30 min).
    expect(DEFAULT_CONSUMER_OPTIONS.sessionTimeout).toBeGreaterThanOrEqual(6_000);
  });

  it('start() rejects when no broker answers, leaves nothing running, and the transport can start again', async () => {
    const kafka = new Kafka({ brokers: ['127.0.0.1:1'], logLevel: logLevel.NOTHING, retry: { retries: 1, initialRetryTime: 50 } });
    const t = new KafkaTransport({ kafka });
    await expect(t.start('c', 1, { onMessage() {} })).rejects.toThrow();
    await expect(t.start('c', 1, { onMessage() {} })).rejects.toThrow();
    expect(() => t.send([newMessage({ type: MessageType.MsgHeartbeat, from: 1, to: 2 })])).not.toThrow();
    expect(t.stats()).toEqual({ sent: 0, received: 0, dropped: 0, sendFailures: 1 });
    await t.stop();
  });

  it('chunk by default below the broker default message.max.bytes (1 MiB per record batch)', () => {
    expect(DEFAULT_MAX_FRAME_BYTES).toBeLessThan(1_048_588 - 64 * 1024);
    const caps = new KafkaTransport({ brokers: ['127.0.0.1:1'] }).capabilities;
    expect(caps).toMatchObject({ maxPayloadBytes: Number.POSITIVE_INFINITY, orderedPerPeer: true });
    // What one frame carries after the largest header and a MAC.
    expect(caps.maxUnsplitBytes).toBeGreaterThan(DEFAULT_MAX_FRAME_BYTES - 512);
    expect(caps.maxUnsplitBytes).toBeLessThan(DEFAULT_MAX_FRAME_BYTES);
  });
});

describeWithKafka('KafkaTransport on a broker', (brokers) => {
  const warnings: string[] = [];
  const logger = collectingLogger(warnings);
  const started: KafkaTransport[] = [];
  const topics: string[] = [];
  const cluster = () => `kafka-test-${randomBytes(6).toString('hex')}`;

  interface Node {
    transport: KafkaTransport;
    inbox: Message[];
    unreachable: number[];
  }

  async function node(clusterId: string, id: number, options: Partial<KafkaTransportOptions> = {}): Promise<Node> {
    const transport = new KafkaTransport({ brokers, logger, ...options } as KafkaTransportOptions);
    const n: Node = { transport, inbox: [], unreachable: [] };
    const handlers: TransportHandlers = {
      onMessage: (m) => n.inbox.push(m),
      onUnreachable: (peer) => n.unreachable.push(peer),
    };
    topics.push(topicName('raftbus', clusterId, id));
    await transport.start(clusterId, id, handlers);
    started.push(transport);
    return n;
  }

  afterEach(async () => {
    await Promise.all(started.splice(0).map((t) => t.stop()));
    await deleteTopics(brokers, topics.splice(0));
    warnings.length = 0;
  });

  const sameBytes = (a: Message | undefined, b: Message) => {
    expect(a).toBeDefined();
    expect(Buffer.compare(encodeMessage(a!), encodeMessage(b))).toBe(0);
  };

  it('carries binary payloads intact, with and without a cluster key', async () => {
    for (const key of [undefined, 'per-cluster secret']) {
      const c = cluster();
      const [a, b] = [await node(c, 1, { key }), await node(c, 2, { key })];
      const every = Uint8Array.from({ length: 256 }, (_, i) => i);
      const sent = newMessage({
        type: MessageType.MsgApp,
        from: 1,
        to: 2,
        term: 3,
        index: 9,
        logTerm: 3,
        commit: 9,
        entries: [
          newEntry({ index: 10, term: 3, data: every }),
          newEntry({ index: 11, term: 3, data: randomBytes(4096) }),
          newEntry({ index: 12, term: 3, data: new Uint8Array(0) }),
        ],
        context: every.slice().reverse(),
      });
      a.transport.send([sent]);
      await waitFor(() => b.inbox.length >= 1, 10_000, `the MsgApp (key ${key ?? 'none'})`);
      sameBytes(b.inbox[0], sent);
      expect(b.transport.stats().dropped).toBe(0);
    }
  });

  it('chunks a 3 MiB snapshot into frames the broker accepts and delivers it whole', async () => {
    const c = cluster();
    const [a, b] = [await node(c, 1), await node(c, 2)];
    const admin = new Kafka({ brokers, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      const topic = topicName('raftbus', c, 2);
      const end = async () => Number((await admin.fetchTopicOffsets(topic)).find((p) => p.partition === 0)!.high);
      const before = await end();
      const snap = newMessage({
        type: MessageType.MsgSnap,
        from: 1,
        to: 2,
        term: 4,
        snapshot: { data: randomBytes(3 * 1024 * 1024), metadata: { index: 100, term: 4, confState: { voters: [1, 2], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false } } },
      });
      a.transport.send([snap]);
      await waitFor(() => b.inbox.length >= 1, 20_000, 'the 3 MiB snapshot');
      sameBytes(b.inbox[0], snap);
      // Four records of at most 900 KiB, not one of 3 MiB.
      expect((await end()) - before).toBe(4);
      expect(a.transport.stats()).toMatchObject({ sent: 1, sendFailures: 0 });
    } finally {
      await admin.disconnect();
    }
  }, 30_000);

  it('keeps clusters with the same node ids, and ids a naive topic name would merge, apart', async () => {
    const base = cluster();
    const ids = [`${base}.a`, `${base}_a`, `${base}_2ea`];
    const nodes = await Promise.all(ids.map(async (c) => [await node(c, 1), await node(c, 2)] as const));
    ids.forEach((c, i) => {
      const [a] = nodes[i]!;
      a.transport.send([newMessage({ type: MessageType.MsgHeartbeat, from: 1, to: 2, term: 1, commit: i, context: new TextEncoder().encode(c) })]);
    });
    await waitFor(() => nodes.every(([, b]) => b.inbox.length >= 1), 10_000, 'one heartbeat in each cluster');
    await new Promise((r) => setTimeout(r, 300));
    nodes.forEach(([a, b], i) => {
      expect(b.inbox.map((m) => new TextDecoder().decode(m.context))).toEqual([ids[i]]);
      expect(a.inbox).toEqual([]);
    });
  });

  it('reads from where it starts: what was sent to a stopped node is not delivered when it returns', async () => {
    const c = cluster();
    const a = await node(c, 1);
    const first = await node(c, 2);
    await first.transport.stop();
    // Node 2's topic exists, so this is published, into nobody's inbox.
    a.transport.send([newMessage({ type: MessageType.MsgHeartbeat, from: 1, to: 2, term: 1, commit: 1 })]);
    await waitFor(() => a.transport.stats().sent >= 1, 10_000, 'the heartbeat to the stopped node published');
    const again = await node(c, 2);
    a.transport.send([newMessage({ type: MessageType.MsgHeartbeat, from: 1, to: 2, term: 1, commit: 2 })]);
    await waitFor(() => again.inbox.length >= 1, 10_000, 'the heartbeat after the restart');
    await new Promise((r) => setTimeout(r, 300));
    expect(again.inbox.map((m) => m.commit)).toEqual([2]);
    expect(first.inbox).toEqual([]);
  });

  it('delivers again when its topic is deleted and made anew under it, with offsets starting over', async () => {
    const c = cluster();
    const [a, b] = [await node(c, 1), await node(c, 2)];
    const heartbeat = (commit: number) => newMessage({ type: MessageType.MsgHeartbeat, from: 1, to: 2, term: 1, commit });
    // Node 2 reads on from offset 200 ...
    for (let i = 1; i <= 200; i++) a.transport.send([heartbeat(i)]);
    await waitFor(() => b.inbox.length >= 200, 20_000, 'the first 200 heartbeats');
    // ... of a topic that goes and comes back empty (as after losing the broker's data).
    const topic = topicName('raftbus', c, 2);
    const admin = new Kafka({ brokers, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    let n = 200;
    const beat = setInterval(() => a.transport.send([heartbeat(++n)]), 100);
    try {
      await admin.deleteTopics({ topics: [topic], timeout: 10_000 });
      await waitFor(
        async () => (await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true }).catch(() => false)) === true,
        20_000,
        'the topic made anew',
      );
      // Fewer than 200 records reach the new topic before this deadline: the
      // receiver must not wait for offset 200 to come round again.
      await waitFor(() => b.inbox.some((m) => m.commit > 200), 15_000, 'a heartbeat on the new topic');
    } finally {
      clearInterval(beat);
      await admin.disconnect();
    }
    const commits = b.inbox.map((m) => m.commit);
    expect(commits).toEqual([...commits].sort((x, y) => x - y));
  }, 60_000);

  it("uses a kafkajs client the application owns, and stop() leaves it usable", async () => {
    const kafka = new Kafka({ brokers, clientId: 'app', logLevel: logLevel.NOTHING });
    const c = cluster();
    const a = await node(c, 1, { kafka, brokers: undefined });
    const b = await node(c, 2, { kafka, brokers: undefined });
    await a.transport.stop();
    const a2 = await node(c, 1, { kafka, brokers: undefined });
    a2.transport.send([newMessage({ type: MessageType.MsgHeartbeat, from: 1, to: 2, term: 1 })]);
    b.transport.send([newMessage({ type: MessageType.MsgHeartbeat, from: 2, to: 1, term: 1 })]);
    await waitFor(() => b.inbox.length >= 1 && a2.inbox.length >= 1, 10_000, 'heartbeats both ways on the shared client');
  });

  it('stop() with a produce request in flight leaves no connection behind', async () => {
    // kafkajs retries a request whose connection a disconnect closed, and the
    // retry connects again: a producer disconnected mid-request left a socket
    // open that nothing would ever close, and kept the process alive.
    const sockets: Socket[] = [];
    const socketFactory: ISocketFactory = ({ host, port, onConnect }) => {
      const socket = net.connect({ host, port }, onConnect);
      sockets.push(socket);
      return socket;
    };
    const kafka = new Kafka({ brokers, clientId: 'app', logLevel: logLevel.NOTHING, socketFactory });
    const c = cluster();
    const b = await node(c, 2);
    for (let round = 0; round < 5; round++) {
      const a = await node(c, 1, { kafka, brokers: undefined });
      // Enough bytes that the produce request is still in flight at stop().
      const entries = Array.from({ length: 64 }, (_, i) => newEntry({ index: i + 1, term: 1, data: randomBytes(16 * 1024) }));
      a.transport.send([newMessage({ type: MessageType.MsgApp, from: 1, to: 2, term: 1, entries })]);
      await new Promise((resolve) => setTimeout(resolve, round * 2));
      await a.transport.stop();
      started.splice(started.indexOf(a.transport), 1);
    }
    // Whatever kafkajs was doing when stop() resolved has had time to reconnect.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(sockets.filter((s) => !s.destroyed).map((s) => `${s.localPort} -> ${s.remotePort}`)).toEqual([]);
  }, 60_000);

  it('logs nothing on a healthy broker', async () => {
    const c = cluster();
    const [a, b] = [await node(c, 1), await node(c, 2)];
    a.transport.send([newMessage({ type: MessageType.MsgHeartbeat, from: 1, to: 2, term: 1 })]);
    a.transport.send([newMessage({ type: MessageType.MsgHeartbeat, from: 1, to: 3, term: 1 })]);
    await waitFor(() => b.inbox.length >= 1 && a.unreachable.length >= 1, 10_000, 'a heartbeat, and node 3 reported unreachable');
    await Promise.all([a.transport.stop(), b.transport.stop()]);
    expect(warnings).toEqual([]);
  });
});
