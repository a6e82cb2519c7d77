// The Transport contract as tests. A transport moves raft messages between
// the nodes of one cluster and may lose, duplicate or reorder them; what it
// must never do is corrupt a message, hand it to the wrong node, let it
// cross into another cluster, or drop it without counting. The suite checks
// exactly that, on a healthy bus, and the promises a transport's
// capabilities make (maxPayloadBytes, orderedPerPeer).
import {
  ConfChangeType,
  EntryType,
  MessageType,
  decodeMessage,
  encodeConfChange,
  encodeMessage,
  newConfChange,
  newConfState,
  newEntry,
  newMessage,
  type Message,
  type Transport,
  type TransportStats,
} from '@raftbus/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SeededRandom } from './random.js';
import { sleep, waitFor } from './wait.js';

export interface TransportHarness {
  /**
   * A new, not yet started transport on the harness's bus. The suite calls
   * start() with the node id and cluster id given here (some buses want
   * them at construction, e.g. to name a consumer group).
   */
  transport(nodeId: number, clusterId: string): Transport | Promise<Transport>;
  /** Releases the bus (connections, servers, keys). Transports are stopped first. */
  cleanup?: () => Promise<void>;
}

export interface TransportConformanceOptions {
  /**
   * What happens to a message whose encoding is larger than
   * capabilities.maxPayloadBytes (when that is finite): 'split' (it arrives
   * intact, in pieces on the bus) or 'refused' (counted in sendFailures and
   * never delivered). Default 'refused'.
   */
  oversized?: 'split' | 'refused';
  /**
   * Whether the transport can tell that a peer does not exist (a node that
   * never started): it then counts the send as a failure and calls
   * onUnreachable. Buses that publish into the void cannot. Default false.
   */
  detectsUnknownPeers?: boolean;
  /** Size of the large message sent when maxPayloadBytes is Infinity. Default 4 MiB. */
  largeMessageBytes?: number;
  /** Number of messages in the bulk test. Default 1000. */
  manyMessages?: number;
  /** Longest wait for something that should happen, in ms. Default 10 000. */
  timeoutMs?: number;
  /** How long to watch for something that must not happen, in ms. Default 200. */
  quietMs?: number;
}

interface Node {
  id: number;
  clusterId: string;
  transport: Transport;
  inbox: Message[];
  unreachable: number[];
  /** Set once the suite's stop() of this node resolved: nothing may arrive after. */
  stopped: boolean;
}

const text = new TextEncoder();

/**
 * Asserts that `received` is `sent` after the wire: equal encodings (the
 * codec is canonical), or else deep-equal to the codec's round trip of
 * `sent`, which shows a readable difference when it is not. Exported for
 * the framing tests, which check the same promise below the transport.
 */
export function expectSameMessage(received: Message | undefined, sent: Message, what = 'the message'): void {
  expect(received, what).toBeDefined();
  const a = encodeMessage(received!);
  const b = encodeMessage(sent);
  if (a.length === b.length && Buffer.compare(a, b) === 0) return;
  if (b.length > 1 << 20) expect.fail(`${what}: the ${b.length}-byte message arrived changed (${a.length} bytes)`);
  expect(received, what).toEqual(decodeMessage(b));
}

/** A small message the suite can recognise: `index` numbers it, `context` names its cluster. */
function marker(from: number, to: number, index: number, clusterId: string): Message {
  return newMessage({ type: MessageType.MsgHeartbeat, from, to, term: 1, index, context: text.encode(clusterId) });
}

/** A MsgApp whose encoding is exactly `size` bytes. */
function messageOfSize(from: number, to: number, size: number, rng: SeededRandom): Message {
  const payload = rng.bytes(size);
  const make = (n: number, pad: number) =>
    newMessage({
      type: MessageType.MsgApp,
      from,
      to,
      term: 2,
      index: 7,
      logTerm: 2,
      commit: 7,
      entries: [newEntry({ index: 8, term: 2, data: payload.subarray(0, n) })],
      context: new Uint8Array(pad).fill(7),
    });
  const overhead = encodeMessage(make(0, 0)).length;
  // Length prefixes grow with the payload: shrink it until the total fits,
  // then fill what a prefix boundary skipped with a few context bytes (a
  // non-empty context costs a tag, a length byte and its bytes).
  let n = Math.max(0, size - overhead);
  while (n > 0 && encodeMessage(make(n, 0)).length > size) n--;
  for (let k = 0; k <= 4 && n - k >= 0; k++) {
    const rest = size - encodeMessage(make(n - k, 0)).length;
    const pad = rest === 0 ? 0 : rest >= 3 && rest < 100 ? rest - 2 : -1;
    if (pad < 0) continue;
    const m = make(n - k, pad);
    if (encodeMessage(m).length === size) return m;
  }
  throw new Error(`cannot build a message of exactly ${size} bytes`);
}

function statsDelta(after: TransportStats, before: TransportStats): TransportStats {
  return {
    sent: after.sent - before.sent,
    received: after.received - before.received,
    dropped: after.dropped - before.dropped,
    sendFailures: after.sendFailures - before.sendFailures,
  };
}

export function transportConformance(
  name: string,
  factory: () => Promise<TransportHarness>,
  options: TransportConformanceOptions = {},
): void {
  const oversized = options.oversized ?? 'refused';
  const detectsUnknownPeers = options.detectsUnknownPeers ?? false;
  const largeBytes = options.largeMessageBytes ?? 4 * 1024 * 1024;
  const many = options.manyMessages ?? 1000;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const quietMs = options.quietMs ?? 200;
  const testTimeout = 3 * timeoutMs + 2 * quietMs;

  describe(`${name}: Transport conformance`, () => {
    let harness: TransportHarness;
    let started: Node[];
    /** Messages handed to a node they were not addressed to, found by any test. */
    let misdelivered: string[];
    let cluster: string;
    const rng = new SeededRandom(0x5eed);

    beforeEach(async () => {
      harness = await factory();
      started = [];
      misdelivered = [];
      // Unique per test: a bus that keeps messages (streams, logs) must not
      // hand one test's leftovers to the next.
      cluster = `raftbus-conformance-${Date.now().toString(36)}-${rng.int(1 << 30).toString(36)}`;
    }, timeoutMs);

    afterEach(async () => {
      for (const n of started) await n.transport.stop();
      await harness?.cleanup?.();
      expect(misdelivered, 'messages delivered to a node they were not addressed to').toEqual([]);
    }, timeoutMs);

    async function start(id: number, clusterId = cluster): Promise<Node> {
      const transport = await harness.transport(id, clusterId);
      const node: Node = { id, clusterId, transport, inbox: [], unreachable: [], stopped: false };
      await transport.start(clusterId, id, {
        onMessage(m) {
          if (m.to !== id) misdelivered.push(`${clusterId}/${id} got a message to ${m.to}`);
          if (node.stopped) misdelivered.push(`${clusterId}/${id} got a message after stop()`);
          node.inbox.push(m);
        },
        onUnreachable(peer) {
          node.unreachable.push(peer);
        },
      });
      started.push(node);
      return node;
    }

    async function startAll(...ids: number[]): Promise<Node[]> {
      const nodes: Node[] = [];
      for (const id of ids) nodes.push(await start(id));
      return nodes;
    }

    const arrived = (node: Node, count: number, what: string) =>
      waitFor(() => node.inbox.length >= count, timeoutMs, `${count} message(s) at node ${node.id}: ${what}`);

    it(
      'states its capabilities, and counts nothing before it sends',
      async () => {
        const [a] = await startAll(1);
        const caps = a!.transport.capabilities;
        expect(caps.maxPayloadBytes).toBeGreaterThan(0);
        expect(typeof caps.orderedPerPeer).toBe('boolean');
        if (caps.maxUnsplitBytes !== undefined) {
          expect(caps.maxUnsplitBytes).toBeGreaterThan(0);
          expect(caps.maxUnsplitBytes).toBeLessThanOrEqual(caps.maxPayloadBytes);
        }
        expect(a!.transport.stats()).toEqual({ sent: 0, received: 0, dropped: 0, sendFailures: 0 });
      },
      testTimeout,
    );

    it(
      'delivers messages intact: entries with binary data, snapshots, contexts',
      async () => {
        const [a, b] = await startAll(1, 2);
        const allBytes = new Uint8Array(512).map((_, i) => i % 256);
        const sent: Message[] = [
          newMessage({
            type: MessageType.MsgApp,
            from: 1,
            to: 2,
            term: 5,
            logTerm: 4,
            index: 41,
            commit: 40,
            entries: [
              newEntry({ index: 42, term: 5 }),
              newEntry({ index: 43, term: 5, data: allBytes }),
              newEntry({
                index: 44,
                term: 5,
                type: EntryType.EntryConfChange,
                data: encodeConfChange(newConfChange({ type: ConfChangeType.ConfChangeAddLearnerNode, nodeId: 4 })),
              }),
            ],
          }),
          newMessage({
            type: MessageType.MsgSnap,
            from: 1,
            to: 2,
            term: 5,
            snapshot: {
              data: rng.bytes(16 * 1024),
              metadata: {
                index: 40,
                term: 4,
                confState: newConfState({ voters: [1, 2, 3], learners: [5], votersOutgoing: [1, 2, 4], learnersNext: [4], autoLeave: true }),
              },
            },
          }),
          newMessage({ type: MessageType.MsgHeartbeat, from: 1, to: 2, term: 5, commit: 40, context: allBytes }),
          newMessage({ type: MessageType.MsgAppResp, from: 1, to: 2, term: 5, index: 12, reject: true, rejectHint: 9, logTerm: 3 }),
          newMessage({ type: MessageType.MsgVote, from: 1, to: 2, term: 6, index: 44, logTerm: 5, context: text.encode('CampaignTransfer') }),
        ];
        a!.transport.send(sent);
        await arrived(b!, sent.length, 'five messages of five types');
        for (const m of sent) {
          expectSameMessage(b!.inbox.find((r) => r.type === m.type), m, `the ${MessageType[m.type]}`);
        }
      },
      testTimeout,
    );

    it(
      'hands each message to its addressee and no other node',
      async () => {
        const [a, b, c] = await startAll(1, 2, 3);
        a!.transport.send([marker(1, 2, 1, cluster), marker(1, 3, 2, cluster)]);
        c!.transport.send([marker(3, 1, 3, cluster), marker(3, 2, 4, cluster)]);
        b!.transport.send([marker(2, 3, 5, cluster)]);
        await arrived(a!, 1, 'from 3');
        await arrived(b!, 2, 'from 1 and 3');
        await arrived(c!, 2, 'from 1 and 2');
        await sleep(quietMs);
        const got = (n: Node) => [...new Set(n.inbox.map((m) => `${m.from}>${m.index}`))].sort();
        expect(got(a!)).toEqual(['3>3']);
        expect(got(b!)).toEqual(['1>1', '3>4']);
        expect(got(c!)).toEqual(['1>2', '2>5']);
      },
      testTimeout,
    );

    it(
      'keeps two clusters on one bus apart, even when their names and node ids run together',
      async () => {
        // Cluster ids where one is a prefix of the other, and node ids that
        // make `${cluster}${node}` the same string in both: 'x'+'12' = 'x1'+'2'.
        const one = cluster;
        const two = `${cluster}1`;
        const a1 = await start(1, one);
        const a12 = await start(12, one);
        const b1 = await start(1, two);
        const b2 = await start(2, two);
        a1.transport.send([marker(1, 12, 1, one), marker(1, 12, 2, one)]);
        b1.transport.send([marker(1, 2, 3, two), marker(1, 2, 4, two)]);
        a12.transport.send([marker(12, 1, 5, one)]);
        b2.transport.send([marker(2, 1, 6, two)]);
        await arrived(a12, 2, `cluster ${one}`);
        await arrived(b2, 2, `cluster ${two}`);
        await arrived(a1, 1, `cluster ${one}`);
        await arrived(b1, 1, `cluster ${two}`);
        await sleep(quietMs);
        const decoder = new TextDecoder();
        for (const n of [a1, a12, b1, b2]) {
          const clusters = new Set(n.inbox.map((m) => decoder.decode(m.context)));
          expect([...clusters], `clusters heard by ${n.clusterId}/${n.id}`).toEqual([n.clusterId]);
        }
        expect(new Set(a12.inbox.map((m) => m.index))).toEqual(new Set([1, 2]));
        expect(new Set(b2.inbox.map((m) => m.index))).toEqual(new Set([3, 4]));
        expect(new Set(a1.inbox.map((m) => m.index))).toEqual(new Set([5]));
        expect(new Set(b1.inbox.map((m) => m.index))).toEqual(new Set([6]));
      },
      testTimeout,
    );

    it(
      'carries the largest message its maxPayloadBytes promises',
      async () => {
        const [a, b] = await startAll(1, 2);
        const max = a!.transport.capabilities.maxPayloadBytes;
        const big = messageOfSize(1, 2, Number.isFinite(max) ? max : largeBytes, rng);
        a!.transport.send([big]);
        await arrived(b!, 1, `a message of ${encodeMessage(big).length} bytes`);
        expectSameMessage(b!.inbox[0], big, 'the large message');
        expect(a!.transport.stats().sendFailures).toBe(0);
      },
      testTimeout,
    );

    it(
      `a message past maxPayloadBytes is ${oversized === 'split' ? 'split and delivered intact' : 'refused and counted as a send failure'}`,
      async () => {
        const [a, b] = await startAll(1, 2);
        const max = a!.transport.capabilities.maxPayloadBytes;
        // An unbounded transport has no "past": twice the large message must simply arrive.
        const size = Number.isFinite(max) ? max + 1 + Math.min(max, 64 * 1024) : 2 * largeBytes;
        const big = messageOfSize(1, 2, size, rng);
        const small = marker(1, 2, 99, cluster);
        a!.transport.send([big]);
        if (!Number.isFinite(max) || oversized === 'split') {
          await arrived(b!, 1, `a message of ${size} bytes`);
          expectSameMessage(b!.inbox[0], big, 'the large message');
          expect(a!.transport.stats().sendFailures).toBe(0);
        } else {
          await waitFor(() => a!.transport.stats().sendFailures >= 1, timeoutMs, 'the oversized message counted as a send failure');
          // The transport goes on working, and the refused message never turns up.
          a!.transport.send([small]);
          await arrived(b!, 1, 'a small message after the oversized one');
          await sleep(quietMs);
          expect(b!.inbox.map((m) => m.type)).not.toContain(MessageType.MsgApp);
          expect(a!.transport.stats().sendFailures).toBe(1);
        }
      },
      testTimeout,
    );

    it(
      'keeps messages from one peer in order when capabilities.orderedPerPeer (else: all still arrive)',
      async () => {
        const [a, b] = await startAll(1, 2);
        const n = 300;
        // Single sends and batches mixed, as a host sends them.
        for (let i = 1; i <= n; ) {
          const batch = Math.min(1 + rng.int(5), n - i + 1);
          a!.transport.send(Array.from({ length: batch }, (_, k) => marker(1, 2, i + k, cluster)));
          i += batch;
        }
        await waitFor(() => new Set(b!.inbox.map((m) => m.index)).size >= n, timeoutMs, `${n} messages from 1 to 2`);
        const indexes = b!.inbox.map((m) => m.index);
        if (a!.transport.capabilities.orderedPerPeer) {
          expect(indexes).toEqual(Array.from({ length: n }, (_, k) => k + 1));
        } else {
          expect([...new Set(indexes)].sort((x, y) => x - y)).toEqual(Array.from({ length: n }, (_, k) => k + 1));
        }
      },
      testTimeout,
    );

    it(
      detectsUnknownPeers
        ? 'send() to an unknown peer does not throw, counts a send failure and reports the peer unreachable'
        : 'send() to an unknown peer does not throw and is counted as sent or failed',
      async () => {
        const [a, b] = await startAll(1, 2);
        const before = a!.transport.stats();
        expect(() => a!.transport.send([marker(1, 99, 1, cluster)])).not.toThrow();
        if (detectsUnknownPeers) {
          await waitFor(() => a!.transport.stats().sendFailures > before.sendFailures, timeoutMs, 'a send failure for peer 99');
          await waitFor(() => a!.unreachable.includes(99), timeoutMs, 'onUnreachable(99)');
          expect(new Set(a!.unreachable)).toEqual(new Set([99]));
        } else {
          await waitFor(() => {
            const d = statsDelta(a!.transport.stats(), before);
            return d.sent + d.sendFailures >= 1;
          }, timeoutMs, 'the message to peer 99 counted as sent or failed');
        }
        // The transport carries on.
        a!.transport.send([marker(1, 2, 2, cluster)]);
        await arrived(b!, 1, 'a message after the one to an unknown peer');
        expect(b!.inbox.map((m) => m.index)).toEqual([2]);
      },
      testTimeout,
    );

    it(
      'stop() is idempotent; a stopped node neither receives nor sends, not even what was on its way',
      async () => {
        const [a, b, c] = await startAll(1, 2, 3);
        // A burst still on its way when the node stops.
        a!.transport.send(Array.from({ length: 100 }, (_, k) => marker(1, 2, 100 + k, cluster)));
        await b!.transport.stop();
        b!.stopped = true;
        const before = b!.inbox.length;
        await b!.transport.stop();
        await Promise.all([b!.transport.stop(), b!.transport.stop()]);
        expect(() => a!.transport.send([marker(1, 2, 1, cluster)])).not.toThrow();
        expect(() => b!.transport.send([marker(2, 3, 2, cluster), marker(2, 1, 3, cluster)])).not.toThrow();
        a!.transport.send([marker(1, 3, 4, cluster)]);
        await arrived(c!, 1, 'a message between the nodes still running');
        await sleep(quietMs);
        expect(b!.inbox.length, 'messages delivered to node 2 after stop()').toBe(before);
        expect(c!.inbox.map((m) => m.index)).toEqual([4]);
        expect(a!.inbox).toEqual([]);
      },
      testTimeout,
    );

    it(
      `delivers ${many} messages from each of several senders when nothing is faulty, and counts them`,
      async () => {
        const [a, b, c] = await startAll(1, 2, 3);
        const flood = (from: Node, to: number) => {
          for (let i = 1; i <= many; i += 10) {
            from.transport.send(Array.from({ length: Math.min(10, many - i + 1) }, (_, k) => marker(from.id, to, i + k, cluster)));
          }
        };
        flood(a!, 2);
        flood(c!, 2);
        flood(b!, 1);
        const heard = (n: Node, from: number) => new Set(n.inbox.filter((m) => m.from === from).map((m) => m.index));
        await waitFor(() => heard(b!, 1).size >= many && heard(b!, 3).size >= many && heard(a!, 2).size >= many, timeoutMs, `${many} messages on each of 1>2, 3>2, 2>1`);
        const all = new Set(Array.from({ length: many }, (_, k) => k + 1));
        expect(heard(b!, 1)).toEqual(all);
        expect(heard(b!, 3)).toEqual(all);
        expect(heard(a!, 2)).toEqual(all);
        expect(b!.inbox.every((m) => m.from === 1 || m.from === 3)).toBe(true);
        expect(c!.inbox).toEqual([]);
        await waitFor(() => [a!, b!, c!].every((n) => n.transport.stats().sent >= many), timeoutMs, `every node counting ${many} sent`);
        for (const n of [a!, b!, c!]) {
          expect(n.transport.stats().sent, `node ${n.id} sent`).toBe(many);
          expect(n.transport.stats().sendFailures, `node ${n.id} send failures`).toBe(0);
          expect(n.transport.stats().dropped, `node ${n.id} dropped`).toBe(0);
        }
        expect(a!.transport.stats().received).toBeGreaterThanOrEqual(many);
        expect(b!.transport.stats().received).toBeGreaterThanOrEqual(2 * many);
        expect(c!.transport.stats().received).toBe(0);
      },
      testTimeout,
    );

    it(
      'counts each message sent and received',
      async () => {
        const [a, b] = await startAll(1, 2);
        a!.transport.send([marker(1, 2, 1, cluster), marker(1, 2, 2, cluster)]);
        a!.transport.send([marker(1, 2, 3, cluster)]);
        await arrived(b!, 3, 'three messages');
        await waitFor(() => a!.transport.stats().sent >= 3, timeoutMs, 'node 1 counting three sent');
        await waitFor(() => b!.transport.stats().received >= 3, timeoutMs, 'node 2 counting three received');
        expect(a!.transport.stats()).toEqual({ sent: 3, received: 0, dropped: 0, sendFailures: 0 });
        expect(b!.transport.stats()).toMatchObject({ sent: 0, dropped: 0, sendFailures: 0 });
        expect(b!.transport.stats().received).toBe(b!.inbox.length);
      },
      testTimeout,
    );
  });
}
