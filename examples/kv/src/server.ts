// The HTTP face of one node (node:http, no framework):
//
//   PUT    /kv/<key>              body = value; 200 {"key","index","node","leader"} once applied here
//   DELETE /kv/<key>              200 {"key","index","existed","node","leader"}
//   GET    /kv/<key>              the value (text/plain), linearizable; 404 if absent
//   GET    /kv/<key>?stale=true   the value as this node has it, no round trip
//   GET    /status                this node's view of the cluster (JSON)
//
// Any node takes any request: raft forwards a follower's proposals and read
// requests to the leader. Errors are JSON {"error", "message", ...}:
//   400 bad request, 404 no such key/route, 405 wrong method, 413 value too large,
//   429 too many pending requests (Retry-After), 503 no leader / not the leader
//   with forwarding disabled / node stopping (Retry-After, "leader" when known),
//   504 timed out (a write's outcome is then unknown: it may still be applied).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ErrProposalDropped } from '@raftbus/core';
import { ErrBackpressure, ErrNotLeader, ErrProposalTimeout, ErrStopped, type RaftNode } from '@raftbus/host';
import { encodeCommand, type KvCommand, type KvResult, type KvStateMachine } from './kv-state-machine.js';

export interface KvServerOptions {
  node: RaftNode<KvResult>;
  /** The node's state machine, read by GET. */
  store: KvStateMachine;
  /** Node id → base URL of its HTTP API, so a 503 can say where the leader is. */
  peerUrls?: ReadonlyMap<number, string>;
  /** Largest value accepted, in bytes. Default 1 MiB. */
  maxValueBytes?: number;
}

/** Largest key accepted, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 1024;
const RETRY_AFTER_SECONDS = '1';

/** A request refused with `status`; `body` joins the JSON error. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly body: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export class KvServer {
  readonly http: Server;
  private readonly node: RaftNode<KvResult>;
  private readonly store: KvStateMachine;
  private readonly peerUrls: ReadonlyMap<number, string>;
  private readonly maxValueBytes: number;

  constructor(options: KvServerOptions) {
    this.node = options.node;
    this.store = options.store;
    this.peerUrls = options.peerUrls ?? new Map();
    this.maxValueBytes = options.maxValueBytes ?? 1024 * 1024;
    this.http = createServer((req, res) => void this.handle(req, res));
  }

  /** Listens on host:port (port 0: any free one); resolves with the base URL. */
  listen(host: string, port: number): Promise<string> {
    return new Promise((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(port, host, () => {
        this.http.off('error', reject);
        const { address, port: bound } = this.http.address() as AddressInfo;
        resolve(`http://${address.includes(':') ? `[${address}]` : address}:${bound}`);
      });
    });
  }

  /** Stops listening and drops every connection, idle or not, at once. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.http.close(() => resolve());
      this.http.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      await this.route(req, res);
    } catch (e) {
      const err = this.toHttpError(e);
      if (res.headersSent) {
        res.destroy();
        return;
      }
      sendJson(res, err.status, { error: err.code, message: err.message, ...err.body }, err.headers);
    }
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/status') {
      allow(req, ['GET']);
      sendJson(res, 200, this.status());
      return;
    }
    if (!url.pathname.startsWith('/kv/')) throw new HttpError(404, 'not_found', `no route ${url.pathname}`);
    const key = parseKey(url.pathname.slice('/kv/'.length));
    switch (allow(req, ['GET', 'PUT', 'DELETE'])) {
      case 'GET':
        return this.get(res, key, parseStale(url.searchParams));
      case 'PUT': {
        const value = await readValue(req, this.maxValueBytes);
        const { index } = await this.propose({ op: 'put', key, value });
        sendJson(res, 200, { key, index, ...this.servedBy() });
        return;
      }
      case 'DELETE': {
        const { index, existed } = await this.propose({ op: 'delete', key });
        sendJson(res, 200, { key, index, existed, ...this.servedBy() });
        return;
      }
    }
  }

  private async get(res: ServerResponse, key: string, stale: boolean): Promise<void> {
    const value = stale ? this.store.get(key) : await this.node.read(() => this.store.get(key));
    if (value === undefined) throw new HttpError(404, 'key_not_found', `no key ${JSON.stringify(key)}`, { key });
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(value);
  }

  private propose(cmd: KvCommand): Promise<KvResult> {
    return this.node.propose(encodeCommand(cmd));
  }

  /** Which node answered and whom it follows: shows a follower's write going through the leader. */
  private servedBy(): { node: number; leader: number | null } {
    return { node: this.node.id, leader: this.node.status().leader ?? null };
  }

  private status(): Record<string, unknown> {
    const st = this.node.status();
    return {
      id: st.id,
      state: st.state,
      role: st.role,
      leader: st.leader ?? null,
      term: st.term,
      commit: st.commit,
      applied: st.applied,
      snapshotIndex: st.snapshotIndex,
      members: st.confState.voters,
      learners: st.confState.learners,
      keys: this.store.size,
    };
  }

  private toHttpError(e: unknown): HttpError {
    if (e instanceof HttpError) return e;
    const retry = { 'retry-after': RETRY_AFTER_SECONDS };
    if (e instanceof ErrNotLeader) {
      const leaderUrl = e.leader === undefined ? undefined : this.peerUrls.get(e.leader);
      const body = { leader: e.leader ?? null, ...(leaderUrl !== undefined && { leaderUrl }) };
      return new HttpError(503, e.leader === undefined ? 'no_leader' : 'not_leader', e.message, body, retry);
    }
    if (e instanceof ErrBackpressure) return new HttpError(429, 'backpressure', e.message, {}, retry);
    // The request never entered the log (e.g. a leadership transfer is in progress): safe to retry.
    if (e instanceof ErrProposalDropped) return new HttpError(503, 'dropped', e.message, {}, retry);
    if (e instanceof ErrProposalTimeout) {
      return new HttpError(504, 'timeout', e.message, e.operation === 'propose' ? { outcome: 'unknown' } : {});
    }
    if (e instanceof ErrStopped) return new HttpError(503, 'stopped', e.message, {}, retry);
    return new HttpError(500, 'internal', e instanceof Error ? e.message : String(e));
  }
}

function allow(req: IncomingMessage, methods: readonly string[]): string {
  const method = req.method ?? '';
  if (!methods.includes(method)) {
    throw new HttpError(405, 'method_not_allowed', `${method} is not allowed here`, {}, { allow: methods.join(', ') });
  }
  return method;
}

function parseKey(encoded: string): string {
  let key: string;
  try {
    key = decodeURIComponent(encoded);
  } catch {
    throw new HttpError(400, 'bad_key', 'the key is not valid percent-encoded UTF-8');
  }
  if (key === '') throw new HttpError(400, 'bad_key', 'the key is empty: use /kv/<key>');
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) throw new HttpError(400, 'bad_key', `the key is longer than ${MAX_KEY_BYTES} bytes`);
  return key;
}

function parseStale(params: URLSearchParams): boolean {
  const stale = params.get('stale');
  if (stale === null || stale === 'false') return false;
  if (stale === 'true') return true;
  throw new HttpError(400, 'bad_query', `stale must be true or false, got ${JSON.stringify(stale)}`);
}

function readValue(req: IncomingMessage, limit: number): Promise<string> {
  // The rest of a too large body is not read, so the connection cannot be reused.
  const tooLarge = new HttpError(413, 'value_too_large', `the value is larger than ${limit} bytes`, {}, { connection: 'close' });
  if (Number(req.headers['content-length'] ?? 0) > limit) return Promise.reject(tooLarge);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size <= limit) {
        chunks.push(chunk);
        return;
      }
      // Not destroyed: the socket must stay open for the 413.
      req.off('data', onData);
      req.resume();
      reject(tooLarge);
    };
    req.on('data', onData);
    req.once('error', reject);
    req.once('end', () => {
      try {
        resolve(utf8.decode(Buffer.concat(chunks)));
      } catch {
        reject(new HttpError(400, 'bad_value', 'the value is not valid UTF-8'));
      }
    });
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(`${JSON.stringify(body)}\n`);
}
