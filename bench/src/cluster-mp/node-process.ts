// One raft node in its own process, driven by the suite over the fork IPC
// channel (protocol.ts): start, report status, run a closed loop of
// proposers on this node, stop. The node is built exactly as BenchCluster
// builds each of its nodes (CLUSTER_NODE_OPTIONS, CountingStateMachine,
// seeded election timeouts); only the process boundary differs.
import { ConsoleLogger, LogLevel, type DurableStorage, type Transport } from '@raftbus/core';
import { RaftNode } from '@raftbus/host';
import { FileStorage } from '@raftbus/storage-file';
import { InMemoryStorage } from '@raftbus/storage-memory';
import { SeededRandom } from '@raftbus/testkit';
import { NatsTransport } from '@raftbus/transport-nats';
import { RedisTransport } from '@raftbus/transport-redis';
import { CLUSTER_NODE_OPTIONS } from '../cluster/bench-cluster.js';
import { closedLoop } from '../cluster/closed-loop.js';
import { CountingStateMachine } from '../cluster/counting-state-machine.js';
import type { Envelope, Reply, Request, StartRequest } from './protocol.js';

const logger = new ConsoleLogger(LogLevel.Error);
let node: RaftNode<undefined> | undefined;

function transportFor(r: StartRequest): Transport {
  return r.bus === 'redis' ? new RedisTransport({ url: r.url, logger }) : new NatsTransport({ servers: r.url, logger });
}

async function handle(req: Request): Promise<Reply> {
  switch (req.type) {
    case 'start': {
      if (node !== undefined) throw new Error('already started');
      const storage: DurableStorage = req.storage === 'file' ? new FileStorage({ dir: req.dir!, logger }) : new InMemoryStorage();
      node = new RaftNode<undefined>({
        id: req.id,
        clusterId: req.clusterId,
        peers: req.peers,
        transport: transportFor(req),
        storage,
        stateMachine: new CountingStateMachine(),
        logger,
        randomInt: new SeededRandom(req.seed * 7919 + req.id).randomInt,
        ...CLUSTER_NODE_OPTIONS,
      });
      await node.start();
      return { type: 'started' };
    }
    case 'status': {
      const s = started().status();
      return { type: 'status', state: { role: s.role, term: s.term, commit: s.commit, applied: s.applied } };
    }
    case 'load': {
      const { type: _, ...loop } = req;
      const mine = started();
      return { type: 'loaded', result: await closedLoop(() => mine, loop) };
    }
    case 'stop':
      await node?.stop().catch(() => undefined);
      node = undefined;
      return { type: 'stopped' };
  }
}

function started(): RaftNode<undefined> {
  if (node === undefined) throw new Error('not started');
  return node;
}

function send(reply: Envelope<Reply>, then?: () => void): void {
  if (process.connected) process.send!(reply, undefined, {}, () => then?.());
  else then?.();
}

process.on('message', (msg: Envelope<Request>) => {
  handle(msg).then(
    (reply) => send({ ...reply, seq: msg.seq }, reply.type === 'stopped' ? () => process.exit(0) : undefined),
    (e: unknown) => send({ type: 'error', message: e instanceof Error ? e.message : String(e), seq: msg.seq }),
  );
});

// The suite gone (crashed, killed): stop the node and leave, never linger.
process.on('disconnect', () => {
  const stopping = node?.stop().catch(() => undefined) ?? Promise.resolve();
  void stopping.finally(() => process.exit(0));
  setTimeout(() => process.exit(1), 5_000).unref();
});
