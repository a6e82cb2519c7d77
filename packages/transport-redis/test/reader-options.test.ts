// What of the caller's ioredis client or options reaches the blocking inbox
// reader. The reader's connection is a duplicate() of the caller's client, or
// made from the caller's options: per-command timeouts meant for ordinary
// commands would end every XREAD BLOCK the reader waits in.
import { MessageType, newMessage, type Message } from '@raftbus/core';
import { findRedis, sleep, waitFor, whyNo, type ServerHandle } from '@raftbus/testkit';
import { Redis, type RedisOptions } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisTransport, inboxKey, type RedisTransportLogger, type RedisTransportOptions } from '../src/index.js';
import { deleteClusterKeys } from './redis-server.js';

const noRedis = whyNo('redis');
/** Far above the timeouts under test, so an XREAD outlives them. */
const BLOCK_MS = 1_000;
const TIMEOUT_MS = 50;

interface Node {
  transport: RedisTransport;
  inbox: Message[];
}

let running: RedisTransport[] = [];
let clients: Redis[] = [];
let clusterSeq = 0;
const clustersUsed = new Set<string>();

afterEach(async () => {
  await Promise.all(running.map((t) => t.stop()));
  for (const c of clients) c.disconnect();
  running = [];
  clients = [];
});

function freshCluster(): string {
  const id = `ro-${Date.now().toString(36)}-${process.pid}-${++clusterSeq}`;
  clustersUsed.add(id);
  return id;
}

async function startNode(id: number, clusterId: string, options: RedisTransportOptions): Promise<Node> {
  const transport = new RedisTransport(options);
  running.push(transport);
  const node: Node = { transport, inbox: [] };
  await transport.start(clusterId, id, { onMessage: (m) => node.inbox.push(m) });
  return node;
}

function client(target: string, options: RedisOptions = {}): Redis {
  const c = new Redis(target, options);
  c.on('error', () => {});
  clients.push(c);
  return c;
}

/** Keeps the lines that say reading went wrong (warnings, errors). */
function troubleLogger(): { logger: RedisTransportLogger; trouble: string[] } {
  const trouble: string[] = [];
  const ignore = (): void => {};
  return {
    trouble,
    logger: { debug: ignore, info: ignore, warning: (m) => void trouble.push(`warning ${m}`), error: (m) => void trouble.push(`error ${m}`) },
  };
}

function heartbeat(from: number, to: number, index: number): Message {
  return newMessage({ type: MessageType.MsgHeartbeat, from, to, term: 1, index });
}

describe.skipIf(noRedis !== undefined)(`RedisTransport reader vs the caller's ioredis options${noRedis ? ` (skipped: ${noRedis})` : ''}`, () => {
  let service: ServerHandle;
  let url = '';
  beforeAll(async () => {
    service = await findRedis();
    url = service.url;
  });
  afterAll(async () => {
    if (service === undefined) return;
    await deleteClusterKeys(service.url, clustersUsed);
    await service.stop();
  });

  // commandTimeout rejects an XREAD BLOCK unanswered after 50 ms ("Command
  // timed out"); socketTimeout destroys a socket that receives nothing for
  // 50 ms. Either way the reader's XREAD fails, which it logs as a warning,
  // then backs off: messages arrive late. Nothing goes wrong while idle with
  // them kept off the reader's connection.
  it.each<[string, RedisOptions]>([
    ['commandTimeout', { commandTimeout: TIMEOUT_MS }],
    ['socketTimeout', { socketTimeout: TIMEOUT_MS }],
  ])('a %s below blockMs, in the given client or in the options, leaves the reader blocking undisturbed', async (_, timeout) => {
    const cluster = freshCluster();
    const { logger, trouble } = troubleLogger();
    const sender = await startNode(1, cluster, { url });
    const viaClient = await startNode(2, cluster, { client: client(url, timeout), blockMs: BLOCK_MS, logger });
    const viaOptions = await startNode(3, cluster, { url, redis: timeout, blockMs: BLOCK_MS, logger });
    // Idle well past the timeout and past one BLOCK: each reader has waited
    // in an XREAD far longer than the timeout, then in the next one.
    await sleep(BLOCK_MS + 500);
    sender.transport.send([heartbeat(1, 2, 1), heartbeat(1, 3, 2)]);
    await waitFor(() => viaClient.inbox.length === 1 && viaOptions.inbox.length === 1, 10_000, 'the message at nodes 2 and 3');
    expect(trouble).toEqual([]);
    // The publishing side keeps the caller's timeout: theirs to choose, and XADD answers at once.
    viaClient.transport.send([heartbeat(2, 3, 3)]);
    viaOptions.transport.send([heartbeat(3, 2, 4)]);
    await waitFor(() => viaClient.inbox.length === 2 && viaOptions.inbox.length === 2, 10_000, 'a message each way between nodes 2 and 3');
    expect(trouble).toEqual([]);
  });

  it('with a keyPrefix in the options, publisher and reader agree: inboxes live under it, both ways', async () => {
    const cluster = freshCluster();
    const a = await startNode(1, cluster, { url, redis: { keyPrefix: 'app:' } });
    const b = await startNode(2, cluster, { url, redis: { keyPrefix: 'app:' } });
    a.transport.send([heartbeat(1, 2, 1)]);
    b.transport.send([heartbeat(2, 1, 2)]);
    await waitFor(() => a.inbox.length === 1 && b.inbox.length === 1, 10_000, 'a message each way');
    const admin = client(url);
    expect(await admin.xlen(`app:${inboxKey(cluster, 2)}`)).toBe(1);
    expect(await admin.xlen(`app:${inboxKey(cluster, 1)}`)).toBe(1);
    expect(await admin.exists(inboxKey(cluster, 1), inboxKey(cluster, 2))).toBe(0);
    await admin.del(`app:${inboxKey(cluster, 1)}`, `app:${inboxKey(cluster, 2)}`);
  });
});
