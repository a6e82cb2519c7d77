// raftbus-kv's command line: parsed and validated here, run by main.ts.
import { parseArgs } from 'node:util';

export const TRANSPORTS = ['memory', 'redis', 'nats', 'kafka'] as const;
export type TransportName = (typeof TRANSPORTS)[number];

/** The bus the nodes exchange raft messages over, as --transport and --url name it. */
export type BusConfig =
  | { transport: 'memory' }
  /** A redis:// or rediss:// URL. */
  | { transport: 'redis'; url: string }
  /** NATS servers: nats://host:port, tls://host:port or host:port. */
  | { transport: 'nats'; servers: string[] }
  /** Kafka bootstrap brokers, host:port each. */
  | { transport: 'kafka'; brokers: string[] };

export interface KvConfig {
  id: number;
  /** Every member's id → the base URL of its HTTP API (this node's included). */
  peers: Map<number, string>;
  dataDir: string;
  /** Where this node's HTTP API listens. */
  http: { host: string; port: number };
  /** Names the raft cluster on the bus: clusters sharing one bus need different names. */
  clusterId: string;
  bus: BusConfig;
}

/** The cluster name when --cluster is not given. */
export const DEFAULT_CLUSTER_ID = 'raftbus-kv';

export type Command = { kind: 'help' } | { kind: 'run'; config: KvConfig };

/** A bad command line; main prints it with a pointer to --help and exits 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

export const USAGE = `Usage: raftbus-kv --id <n> --peers <id>=<url>,... --data-dir <dir> [options]

A replicated key-value store: one raft node with an HTTP API.

Options:
  --id <n>             this node's id (a positive integer listed in --peers)
  --peers <list>       every member as id=http-url, comma-separated, e.g.
                       1=http://127.0.0.1:7001,2=http://127.0.0.1:7002,3=http://127.0.0.1:7003
                       (the URLs are where each node's HTTP API answers; a 503
                       names the leader's)
  --data-dir <dir>     where this node keeps its WAL and snapshots
  --transport <name>   memory (default), redis, nats or kafka
  --url <bus>          the bus to join (required with redis, nats and kafka):
                         redis  redis://[user:password@]host:port[/db], or rediss:// (TLS)
                         nats   nats://host:port (or tls://, or host:port); several comma-separated
                         kafka  host:port of the bootstrap brokers, comma-separated
  --cluster <name>     the raft cluster's name on the bus (default ${DEFAULT_CLUSTER_ID}); every
                       member uses the same one, and clusters sharing a bus differ
  --http <host:port>   where to listen (default: this node's URL in --peers)
  -h, --help           print this help

Transports: redis, nats and kafka carry raft between processes and machines:
start one raftbus-kv per member, each with its own --id and --data-dir and the
same --peers, --transport, --url and --cluster. memory is an in-process bus:
nodes in different processes cannot reach each other through it, so with
--transport memory --peers must list this node alone (a 1-node cluster). To
see three nodes replicate without a broker, run the demo (pnpm demo), which
hosts all three in one process.

HTTP API:
  PUT /kv/<key>              store the request body as the key's value
  DELETE /kv/<key>           delete the key
  GET /kv/<key>              linearizable read; add ?stale=true to read locally
  GET /status                this node's role, leader, term, commit and applied index`;

/** Parses raftbus-kv's arguments (without node and the script). Throws UsageError. */
export function parseCommandLine(argv: readonly string[]): Command {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        id: { type: 'string' },
        peers: { type: 'string' },
        'data-dir': { type: 'string' },
        transport: { type: 'string', default: 'memory' },
        url: { type: 'string' },
        cluster: { type: 'string', default: DEFAULT_CLUSTER_ID },
        http: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (e) {
    // parseArgs's own message names the offending option.
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
  if (values.help) return { kind: 'help' };

  const id = parseId(required(values.id, '--id'), '--id');
  const peers = parsePeers(required(values.peers, '--peers'));
  if (!peers.has(id)) throw new UsageError(`--id ${id} is not one of --peers (${[...peers.keys()].join(', ')})`);
  const dataDir = required(values['data-dir'], '--data-dir');

  const transport = values.transport as TransportName;
  if (!TRANSPORTS.includes(transport)) {
    throw new UsageError(`--transport must be one of ${TRANSPORTS.join(', ')}, got ${JSON.stringify(values.transport)}`);
  }
  const bus = parseBus(transport, values.url);
  if (bus.transport === 'memory' && peers.size > 1) {
    throw new UsageError(
      '--transport memory connects the nodes of one process only, so --peers must list this node alone; ' +
        'for a cluster of processes use --transport redis, nats or kafka with --url; ' +
        'to see three nodes replicate without a broker, run the demo (pnpm demo)',
    );
  }
  const clusterId = values.cluster ?? DEFAULT_CLUSTER_ID;
  if (clusterId === '') throw new UsageError('--cluster must not be empty');

  const http = values.http === undefined ? hostPortOf(peers.get(id)!) : parseHostPort(values.http);
  return { kind: 'run', config: { id, peers, dataDir, http, clusterId, bus } };
}

const URL_EXAMPLES: Record<Exclude<TransportName, 'memory'>, string> = {
  redis: 'redis://127.0.0.1:6379',
  nats: 'nats://127.0.0.1:4222',
  kafka: '127.0.0.1:9092',
};

/** The bus --transport and --url name. */
function parseBus(transport: TransportName, url: string | undefined): BusConfig {
  if (transport === 'memory') {
    if (url !== undefined) throw new UsageError('--url names a bus; --transport memory has none');
    return { transport };
  }
  if (url === undefined || url === '') {
    throw new UsageError(`--transport ${transport} needs --url, the bus to join (e.g. --url ${URL_EXAMPLES[transport]})`);
  }
  switch (transport) {
    case 'redis': {
      const parsed = URL.canParse(url) ? new URL(url) : undefined;
      if ((parsed?.protocol !== 'redis:' && parsed?.protocol !== 'rediss:') || parsed.hostname === '') {
        throw new UsageError(
          `--url for redis must be redis://[user:password@]host:port[/db] or rediss://..., got ${JSON.stringify(url)}`,
        );
      }
      return { transport, url };
    }
    case 'nats':
      return { transport, servers: listOf(url, '--url for nats', checkNatsServer) };
    case 'kafka':
      return { transport, brokers: listOf(url, '--url for kafka', checkBroker) };
  }
}

/** A comma-separated list, each item checked by `check` (which returns a complaint or undefined). */
function listOf(s: string, what: string, check: (item: string) => string | undefined): string[] {
  const items = s.split(',').map((item) => item.trim());
  for (const item of items) {
    const complaint = item === '' ? 'an empty entry' : check(item);
    if (complaint !== undefined) throw new UsageError(`${what}: ${complaint}, in ${JSON.stringify(s)}`);
  }
  return items;
}

function checkNatsServer(item: string): string | undefined {
  let ok: boolean;
  if (item.includes('://')) {
    const url = URL.canParse(item) ? new URL(item) : undefined;
    ok = (url?.protocol === 'nats:' || url?.protocol === 'tls:') && url.hostname !== '';
  } else {
    ok = checkBroker(item) === undefined;
  }
  return ok ? undefined : `${JSON.stringify(item)} is not nats://host:port, tls://host:port or host:port`;
}

function checkBroker(item: string): string | undefined {
  const m = /^(?:\[[^\]]+\]|[^:/\s]+):([0-9]+)$/.exec(item);
  const port = m === null ? NaN : Number(m[1]);
  return port >= 1 && port <= 65535 ? undefined : `${JSON.stringify(item)} is not host:port`;
}

function required(v: string | undefined, flag: string): string {
  if (v === undefined || v === '') throw new UsageError(`${flag} is required`);
  return v;
}

function parseId(s: string, what: string): number {
  const n = /^[0-9]+$/.test(s) ? Number(s) : NaN;
  if (!Number.isSafeInteger(n) || n === 0) throw new UsageError(`${what} must be a positive integer, got ${JSON.stringify(s)}`);
  return n;
}

function parsePeers(s: string): Map<number, string> {
  const peers = new Map<number, string>();
  for (const item of s.split(',')) {
    const eq = item.indexOf('=');
    if (eq < 0) throw new UsageError(`--peers: ${JSON.stringify(item)} is not id=url`);
    const id = parseId(item.slice(0, eq), '--peers: an id');
    const url = URL.canParse(item.slice(eq + 1)) ? new URL(item.slice(eq + 1)) : undefined;
    if (url?.protocol !== 'http:') {
      throw new UsageError(`--peers: node ${id}'s URL must be http://host:port, got ${JSON.stringify(item.slice(eq + 1))}`);
    }
    if (peers.has(id)) throw new UsageError(`--peers: node ${id} is listed twice`);
    peers.set(id, url.origin);
  }
  return peers;
}

function hostPortOf(origin: string): { host: string; port: number } {
  const url = new URL(origin);
  // URL keeps an IPv6 host in brackets; listen() wants it bare.
  return { host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: url.port === '' ? 80 : Number(url.port) };
}

function parseHostPort(s: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):([0-9]+)$/.exec(s);
  const port = m === null ? NaN : Number(m[3]);
  if (m === null || !(port >= 1 && port <= 65535)) {
    throw new UsageError(`--http must be host:port (e.g. 127.0.0.1:7001 or [::1]:7001), got ${JSON.stringify(s)}`);
  }
  return { host: m[1] ?? m[2]!, port };
}
