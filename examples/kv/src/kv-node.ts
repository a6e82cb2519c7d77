// One kv node: a RaftNode driving the kv state machine, and the HTTP server
// in front of it. The CLI, the demo and the tests all start nodes this way.
import { RaftNode, type RaftNodeOptions } from '@raftbus/host';
import { KvStateMachine, type KvResult } from './kv-state-machine.js';
import { KvServer } from './server.js';

export type KvNodeOptions = Omit<RaftNodeOptions<KvResult>, 'stateMachine'> & {
  /** Where the HTTP API listens (port 0: any free port). */
  http: { host: string; port: number };
  /** Node id → base URL of its HTTP API; read at each request, so it may be updated. */
  peerUrls?: ReadonlyMap<number, string>;
};

export interface KvNode {
  readonly id: number;
  readonly raft: RaftNode<KvResult>;
  readonly store: KvStateMachine;
  readonly server: KvServer;
  /** Base URL of the HTTP API, e.g. http://127.0.0.1:7001. */
  readonly url: string;
  /** Closes the HTTP server, then stops the raft node (its storage is closed). */
  stop(): Promise<void>;
}

/** Starts raft (from the storage's state, or bootstrapping `peers`), then the HTTP server. */
export async function startKvNode(options: KvNodeOptions): Promise<KvNode> {
  const { http, peerUrls, ...raftOptions } = options;
  const store = new KvStateMachine();
  const raft = new RaftNode<KvResult>({ ...raftOptions, stateMachine: store });
  await raft.start();
  const server = new KvServer({ node: raft, store, ...(peerUrls !== undefined && { peerUrls }) });
  let url: string;
  try {
    url = await server.listen(http.host, http.port);
  } catch (e) {
    await raft.stop();
    throw e;
  }
  return {
    id: raft.id,
    raft,
    store,
    server,
    url,
    async stop() {
      await server.close();
      await raft.stop();
    },
  };
}
