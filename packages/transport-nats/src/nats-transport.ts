// Raft over NATS core pub/sub. Each node subscribes to its own subject,
// raftbus.<cluster>.<node>; sending is a publish of each frame to the
// addressee's subject. A message sent alike to several nodes (a leader's
// appends and heartbeats) is published once, as one frame naming them, to
// raftbus.<cluster>.all, which every node also subscribes to: the server
// fans it out, instead of the leader encoding and writing it per follower.
// The framing base class turns messages into frames (chunks no larger than
// the server's max_payload, optional HMAC) and back.
//
// Core NATS is at-most-once: a frame published while no subscriber listens,
// or while the connection is down, is gone. Raft retries what matters, so
// the transport's job is to never corrupt or misroute, never throw, keep
// the connection alive through outages, and count every refusal.
import { ErrInvalidConfig, getLogger, type Logger } from '@raftbus/core';
import { FramedTransport, type FramingOptions } from '@raftbus/framing';
import {
  connect,
  type Msg,
  type NatsConnection,
  type NodeConnectionOptions,
  type Status,
  type Subscription,
} from '@nats-io/transport-node';
import { ErrNatsPayloadTooLarge, ErrNatsUnavailable } from './errors.js';
import { clusterSubject, clusterToken, nodeSubject } from './subject.js';

/** Where log lines about the connection go; any core Logger fits. */
export type NatsTransportLogger = Pick<Logger, 'debug' | 'info' | 'warning' | 'error'>;

/**
 * The transport connects a client of its own, with these options passed to
 * `connect()` of @nats-io/transport-node: `servers`, `token`, `user`/`pass`,
 * `authenticator` (e.g. `credsAuthenticator(creds)`), `tls`, … Over our
 * defaults (NATS_CLIENT_DEFAULTS). The transport closes this client on stop().
 */
export type NatsClientOptions = NodeConnectionOptions & { connection?: never };

/**
 * The transport subscribes on a connection the application owns. stop()
 * unsubscribes; the connection is never closed by the transport, and its
 * reconnect policy is the application's.
 */
export type NatsSharedConnection = { connection: NatsConnection } & { [K in keyof NodeConnectionOptions]?: never };

export type NatsTransportOptions = (NatsClientOptions | NatsSharedConnection) &
  Partial<FramingOptions> & {
    /** Default: the core's logger (getLogger()). */
    logger?: NatsTransportLogger;
    /**
     * Default true: publish a message sent alike to several nodes once, to
     * the cluster's subject (see the file's head). False: one publication
     * per addressee. Either way the node listens on the cluster's subject,
     * so nodes with either setting work together.
     */
    multicast?: boolean;
  };

/** NATS's own default max_payload, assumed until a server says otherwise. */
export const DEFAULT_MAX_PAYLOAD = 1024 * 1024;
/**
 * Kept free below max_payload. Frames go out without NATS headers today;
 * the room keeps them legal should headers be added (the server counts
 * headers against max_payload) at a cost of 0.1% of a chunk.
 */
export const HEADER_ROOM_BYTES = 1024;

/** Reconnect policy of the clients the transport creates; NatsClientOptions override it. */
export const NATS_CLIENT_DEFAULTS = {
  // A raft cluster outlives broker outages: never give up reconnecting.
  maxReconnectAttempts: -1,
  // Back within an election timeout or two of the server's return.
  reconnectTimeWait: 500,
  // Notice a half-open connection (a server host gone without a RST) in
  // about 30 s rather than the client's default of 4 minutes.
  pingInterval: 10_000,
  maxPingOut: 3,
  // A node never sends to itself: its own publications to the cluster's
  // subject need not come back to it.
  noEcho: true,
} as const satisfies NodeConnectionOptions;

/** How long stop() lets the client flush what was published before it closes anyway. */
const DRAIN_TIMEOUT_MS = 2_000;
/** Peer subjects remembered per connection; past this many peers the memo starts over. */
const MAX_SUBJECTS = 1024;
/** What every publish that went out returns: one settled promise, not one per call. */
const PUBLISHED: Promise<void> = Promise.resolve();

/** The largest frame for a server whose max_payload is `maxPayload`. */
export function maxFrameBytesFor(maxPayload: number): number {
  return maxPayload - Math.min(HEADER_ROOM_BYTES, Math.floor(maxPayload / 2));
}

interface Link {
  nc: NatsConnection;
  /** Whether we created the connection (and so close it). */
  owned: boolean;
  /** The cluster's subject token. */
  token: string;
  /** Subjects of the peers sent to, so that a send does not build and check one. */
  subjects: Map<number, string>;
  /** The cluster's subject, when publishing to it. */
  all: string | undefined;
  subs: Subscription[];
  statuses: AsyncIterable<Status>;
  /** Connected, as last reported by the client's status events. */
  online: boolean;
  stopping: boolean;
}

export class NatsTransport extends FramedTransport {
  private readonly shared: NatsConnection | undefined;
  private readonly clientOptions: NodeConnectionOptions;
  private readonly log: NatsTransportLogger;
  private readonly maxFrameBytes: number;
  private readonly frameBytesChosen: boolean;
  private readonly multicast: boolean;
  private link: Link | undefined;
  private logPrefix = 'transport-nats';

  constructor(options: NatsTransportOptions = {}) {
    const { connection, logger, key, maxFrameBytes, maxMessageBytes, reassemblyTimeoutMs, maxReassemblyBytes, multicast, ...clientOptions } = options;
    // The frame size is fixed before connect(): from the connection's server
    // when we are handed one, else NATS's default, checked once connected.
    const frameBytes = maxFrameBytes ?? maxFrameBytesFor(connection?.info?.max_payload ?? DEFAULT_MAX_PAYLOAD);
    super({
      key,
      maxFrameBytes: frameBytes,
      maxMessageBytes,
      reassemblyTimeoutMs,
      maxReassemblyBytes,
      orderedPerPeer: true,
      multicast: multicast ?? true,
    });
    this.multicast = multicast ?? true;
    if (connection !== undefined && Object.keys(clientOptions).length > 0) {
      throw new ErrInvalidConfig(
        `transport-nats: pass either { connection } or client options, not both (got ${Object.keys(clientOptions).join(', ')})`,
      );
    }
    this.shared = connection;
    this.clientOptions = clientOptions;
    this.log = logger ?? getLogger();
    this.maxFrameBytes = frameBytes;
    this.frameBytesChosen = maxFrameBytes !== undefined;
  }

  protected async connect(clusterId: string, nodeId: number, deliver: (frame: Uint8Array) => void): Promise<void> {
    const token = clusterToken(clusterId);
    const subjects = [nodeSubject(token, nodeId), clusterSubject(token)];
    this.logPrefix = `transport-nats ${clusterId}/${nodeId}`;
    const owned = this.shared === undefined;
    const nc = this.shared ?? (await connect({ ...NATS_CLIENT_DEFAULTS, name: `raftbus ${clusterId}/${nodeId}`, ...this.clientOptions }));
    const subs: Subscription[] = [];
    try {
      this.checkFrameSize(nc);
      let refused: Error | undefined;
      for (const subject of subjects) {
        subs.push(
          nc.subscribe(subject, {
            callback: (err: Error | null, msg: Msg) => {
              if (err !== null) {
                refused = err;
                this.log.error(`${this.logPrefix}: subscription to ${subject} ended: ${err.message}`);
                return;
              }
              // The callback runs inside the client's protocol parser: nothing may escape it.
              try {
                deliver(msg.data);
              } catch (e) {
                this.log.error(`${this.logPrefix}: message handler threw: ${String(e)}`);
              }
            },
          }),
        );
      }
      // The round trip puts the SUBs on the server before start() resolves:
      // from then on, frames published to this node reach it.
      await nc.flush();
      if (refused !== undefined) throw refused;
    } catch (e) {
      if (owned) await nc.close().catch(() => undefined);
      else if (!nc.isClosed()) for (const sub of subs) sub.unsubscribe();
      throw e;
    }
    const all = this.multicast ? subjects[1] : undefined;
    const link: Link = { nc, owned, token, subjects: new Map(), all, subs, statuses: nc.status(), online: nc.info !== undefined, stopping: false };
    this.link = link;
    void this.watch(link);
    void nc.closed().then((err) => this.onClosed(link, err));
  }

  protected publish(to: number, frames: Uint8Array[]): Promise<void> {
    // The client's synchronous errors, and ours, become a rejection, which
    // the base counts; they never reach send().
    try {
      this.publishNow(to, frames);
      return PUBLISHED;
    } catch (e) {
      return Promise.reject(e);
    }
  }

  protected override publishToAll(_recipients: readonly number[], frame: Uint8Array): Promise<void> {
    try {
      const link = this.usableLink();
      if (link.all === undefined) throw new Error('transport-nats: multicast is off');
      this.checkPayload(link.nc, frame);
      link.nc.publish(link.all, frame);
      return PUBLISHED;
    } catch (e) {
      return Promise.reject(e);
    }
  }

  private publishNow(to: number, frames: Uint8Array[]): void {
    const link = this.usableLink();
    const subject = link.subjects.get(to) ?? subjectFor(link, to);
    // All or nothing: a chunk refused halfway would strand the others.
    for (const frame of frames) this.checkPayload(link.nc, frame);
    for (const frame of frames) link.nc.publish(subject, frame);
  }

  /** The link, when a publish can go out on it now. */
  private usableLink(): Link {
    const link = this.link;
    if (link === undefined) throw new ErrNatsUnavailable('not started');
    if (link.nc.isClosed()) throw new ErrNatsUnavailable('closed');
    if (!link.online) throw new ErrNatsUnavailable('disconnected');
    return link;
  }

  private checkPayload(nc: NatsConnection, frame: Uint8Array): void {
    const maxPayload = nc.info?.max_payload;
    if (maxPayload !== undefined && frame.length > maxPayload) throw new ErrNatsPayloadTooLarge(frame.length, maxPayload);
  }

  protected async disconnect(): Promise<void> {
    const link = this.link;
    this.link = undefined;
    if (link === undefined) return;
    link.stopping = true;
    stopIterating(link.statuses);
    const { nc } = link;
    if (nc.isClosed()) return;
    if (!link.owned) {
      for (const sub of link.subs) sub.unsubscribe();
      return;
    }
    // Drain sends what was published and closes; while the server is away
    // it could wait for a reconnect, so it gets a bounded time.
    if (link.online) await settleWithin(nc.drain(), DRAIN_TIMEOUT_MS);
    await nc.close().catch(() => undefined);
  }

  /** Frames sized for another limit would be refused by this server one by one: refuse the start instead. */
  private checkFrameSize(nc: NatsConnection): void {
    const maxPayload = nc.info?.max_payload;
    if (maxPayload === undefined || this.maxFrameBytes <= maxPayload) return;
    const advice = this.frameBytesChosen
      ? `lower maxFrameBytes to at most ${maxFrameBytesFor(maxPayload)}`
      : `pass maxFrameBytes: ${maxFrameBytesFor(maxPayload)} (or at most that), or construct the transport with { connection } to size frames from the server`;
    throw new ErrInvalidConfig(
      `transport-nats: frames of up to ${this.maxFrameBytes} bytes do not fit the server's max_payload of ${maxPayload} bytes; ${advice}`,
    );
  }

  private async watch(link: Link): Promise<void> {
    try {
      for await (const status of link.statuses) {
        if (link.stopping) break;
        this.onStatus(link, status);
      }
    } catch (e) {
      this.log.error(`${this.logPrefix}: NATS status stream failed: ${String(e)}`);
    }
  }

  private onStatus(link: Link, status: Status): void {
    switch (status.type) {
      case 'disconnect':
        link.online = false;
        this.log.warning(`${this.logPrefix}: disconnected from NATS server ${status.server}; reconnecting, sends fail until then`);
        break;
      case 'reconnect':
        link.online = true;
        this.log.info(`${this.logPrefix}: reconnected to NATS server ${status.server}; subscription resumed`);
        break;
      case 'error':
        this.log.error(`${this.logPrefix}: NATS error: ${status.error.message}`);
        break;
      case 'ldm':
        this.log.warning(`${this.logPrefix}: NATS server ${status.server} is shutting down (lame duck mode)`);
        break;
      case 'staleConnection':
        this.log.warning(`${this.logPrefix}: NATS connection is stale (no PONG); reconnecting`);
        break;
      case 'slowConsumer':
        this.log.warning(`${this.logPrefix}: slow consumer, ${status.pending} messages pending`);
        break;
      case 'reconnecting':
      case 'forceReconnect':
      case 'update':
      case 'ping':
      case 'close':
        this.log.debug(`${this.logPrefix}: NATS status ${status.type}`);
        break;
    }
  }

  private onClosed(link: Link, err: void | Error): void {
    link.online = false;
    if (link.stopping) return;
    const why = err instanceof Error ? `: ${err.message}` : '';
    const message = `${this.logPrefix}: NATS connection closed${why}; this node can no longer send or receive`;
    // Ours never gives up reconnecting, so its closing is unexpected; a
    // shared one may have been closed on purpose by its owner.
    if (link.owned) this.log.error(message);
    else this.log.warning(message);
  }
}

/** The subject of node `to`, remembered for the link's next sends. */
function subjectFor(link: Link, to: number): string {
  const subject = nodeSubject(link.token, to);
  if (link.subjects.size >= MAX_SUBJECTS) link.subjects.clear();
  link.subjects.set(to, subject);
  return subject;
}

/** Ends a status iterator of the client now, not at its next status (it detaches from the connection). */
function stopIterating(statuses: AsyncIterable<Status>): void {
  (statuses as { stop?: () => void }).stop?.();
}

async function settleWithin(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  await Promise.race([promise.then(() => undefined, () => undefined), timeout]);
  clearTimeout(timer);
}
