// One in-process "network" that many MemoryTransports join. It routes
// encoded frames between the nodes of a cluster and lets a test break the
// network in the ways a real bus breaks: lost messages, late messages
// (reordered when the delay varies), partitions and isolated nodes.
import type { Message } from '@raftbus/core';
import { seededRandom } from './random.js';

export interface MemoryBusOptions {
  /**
   * Seeds the random source behind probabilistic drops and delay jitter, so
   * that a run's faults can be replayed. Without it, Math.random is used.
   */
  seed?: number;
}

/** A message on its way, as a drop predicate sees it (it must not modify it). */
export interface InFlightMessage {
  clusterId: string;
  from: number;
  to: number;
  message: Message;
}

/** A probability in [0, 1] that each message is lost, or a predicate choosing the lost ones. */
export type DropRule = number | ((m: InFlightMessage) => boolean);

/** A fixed delay in ms (order kept), or a uniform range (order may change). */
export type DelayRule = number | { min: number; max: number };

export interface MemoryBusStats {
  /** Frames accepted for a joined node (including those a fault then loses). */
  routed: number;
  /** Frames handed to the receiving transport. */
  delivered: number;
  /** Frames lost to a fault: the drop rule, a partition or an isolated node. */
  dropped: number;
  /** Frames for a node that was not joined when sent or when due. */
  unroutable: number;
  /** Frames scheduled and not yet delivered or lost. */
  inFlight: number;
}

/**
 * What a transport registers with the bus. Exported for MemoryTransport
 * only; it is not part of the package's public surface.
 */
export interface BusEndpoint {
  /** A frame from `from` arrived (always asynchronously to the sender). */
  receive(from: number, frame: Uint8Array): void;
  /** A frame this endpoint sent to `peerId` found nobody there. */
  unreachable(peerId: number): void;
}

export class ErrAlreadyJoined extends Error {
  constructor(clusterId: string, nodeId: number) {
    super(`node ${nodeId} has already joined cluster ${JSON.stringify(clusterId)} on this bus`);
    this.name = new.target.name;
  }
}

export class MemoryBus {
  private readonly clusters = new Map<string, Map<number, BusEndpoint>>();
  private readonly random: () => number;
  private dropRule: DropRule = 0;
  private delayRule: DelayRule = 0;
  /** Node id → group, while partitioned. Nodes in no group form one group together. */
  private groups: Map<number, number> | undefined;
  private readonly isolated = new Set<number>();
  private readonly counters: MemoryBusStats = { routed: 0, delivered: 0, dropped: 0, unroutable: 0, inFlight: 0 };

  constructor(options: MemoryBusOptions = {}) {
    this.random = options.seed === undefined ? Math.random : seededRandom(options.seed);
  }

  /**
   * Loses messages: each with probability `rule`, or those for which `rule`
   * returns true. `drop(0)` stops dropping. Faults apply to node ids in
   * every cluster on the bus.
   */
  drop(rule: DropRule): void {
    if (typeof rule === 'number' && !(rule >= 0 && rule <= 1)) throw new RangeError(`drop probability must be in [0, 1], got ${rule}`);
    this.dropRule = rule;
  }

  /**
   * Delays every message sent from now on: by `ms`, which keeps each
   * sender's order, or by a uniform time in [min, max], which may reorder.
   * `delay(0)` delivers on the next turn of the event loop again.
   */
  delay(rule: DelayRule): void {
    const [min, max] = typeof rule === 'number' ? [rule, rule] : [rule.min, rule.max];
    if (!(min >= 0 && max >= min)) throw new RangeError(`invalid delay ${JSON.stringify(rule)}`);
    this.delayRule = rule;
  }

  /**
   * Splits the network: nodes talk only within their group. Nodes listed in
   * no group form one more group together. Replaces any earlier partition.
   */
  partition(groups: ReadonlyArray<readonly number[]>): void {
    const byNode = new Map<number, number>();
    groups.forEach((g, i) => {
      for (const id of g) {
        if (byNode.has(id)) throw new RangeError(`node ${id} is in two partition groups`);
        byNode.set(id, i);
      }
    });
    this.groups = byNode;
  }

  /** Cuts one node off from all others until restore(id) or heal(). */
  isolate(id: number): void {
    this.isolated.add(id);
  }

  restore(id: number): void {
    this.isolated.delete(id);
  }

  /** Ends every partition and isolation (drop and delay rules stay). */
  heal(): void {
    this.groups = undefined;
    this.isolated.clear();
  }

  /** Ids of the nodes joined to `clusterId`, ascending. */
  members(clusterId: string): number[] {
    return [...(this.clusters.get(clusterId)?.keys() ?? [])].sort((a, b) => a - b);
  }

  stats(): MemoryBusStats {
    return { ...this.counters };
  }

  /**
   * Hands a raw frame to `to` as if `from` had sent it, bypassing the
   * sender's transport and the fault rules: for testing a receiver's checks
   * (malformed or forged frames).
   */
  inject(clusterId: string, from: number, to: number, frame: Uint8Array): void {
    const target = this.clusters.get(clusterId)?.get(to);
    if (target === undefined) {
      this.counters.unroutable++;
      return;
    }
    this.counters.routed++;
    this.schedule(0, () => {
      this.counters.delivered++;
      target.receive(from, frame);
    });
  }

  /** @internal For MemoryTransport: registers a node's endpoint. */
  join(clusterId: string, nodeId: number, endpoint: BusEndpoint): void {
    let nodes = this.clusters.get(clusterId);
    if (nodes === undefined) this.clusters.set(clusterId, (nodes = new Map()));
    if (nodes.has(nodeId)) throw new ErrAlreadyJoined(clusterId, nodeId);
    nodes.set(nodeId, endpoint);
  }

  /** @internal For MemoryTransport: unregisters an endpoint (frames in flight to it are lost). */
  leave(clusterId: string, nodeId: number, endpoint: BusEndpoint): void {
    const nodes = this.clusters.get(clusterId);
    if (nodes?.get(nodeId) !== endpoint) return;
    nodes.delete(nodeId);
    if (nodes.size === 0) this.clusters.delete(clusterId);
  }

  /**
   * @internal For MemoryTransport: carries `frame` (the encoding of
   * `message`) from `sender` to node `to`. Returns false when `to` is not
   * joined; a frame lost to a fault counts as sent, as on a real network.
   */
  route(clusterId: string, sender: BusEndpoint, from: number, to: number, frame: Uint8Array, message: Message): boolean {
    const target = this.clusters.get(clusterId)?.get(to);
    if (target === undefined) {
      this.counters.unroutable++;
      return false;
    }
    this.counters.routed++;
    if (this.cut(from, to) || this.shouldDrop({ clusterId, from, to, message })) {
      this.counters.dropped++;
      return true;
    }
    this.schedule(this.nextDelay(), () => {
      // The world may have changed while the frame was on its way.
      if (this.clusters.get(clusterId)?.get(to) !== target) {
        this.counters.unroutable++;
        if (this.clusters.get(clusterId)?.get(from) === sender) sender.unreachable(to);
        return;
      }
      if (this.cut(from, to)) {
        this.counters.dropped++;
        return;
      }
      this.counters.delivered++;
      target.receive(from, frame);
    });
    return true;
  }

  private schedule(delayMs: number, deliver: () => void): void {
    this.counters.inFlight++;
    const run = (): void => {
      this.counters.inFlight--;
      deliver();
    };
    // Never deliver inside the sender's call: a macrotask, so timers and I/O
    // interleave with message traffic as they would on a real network.
    if (delayMs > 0) setTimeout(run, delayMs).unref();
    else setImmediate(run);
  }

  private cut(from: number, to: number): boolean {
    if (this.isolated.has(from) || this.isolated.has(to)) return true;
    if (this.groups === undefined) return false;
    return (this.groups.get(from) ?? -1) !== (this.groups.get(to) ?? -1);
  }

  private shouldDrop(m: InFlightMessage): boolean {
    const rule = this.dropRule;
    if (typeof rule === 'function') return rule(m);
    // Draw only when dropping is on, so a seeded run's draws do not depend
    // on how much traffic passed before the fault was switched on.
    return rule > 0 && this.random() < rule;
  }

  private nextDelay(): number {
    const rule = this.delayRule;
    if (typeof rule === 'number') return rule;
    return rule.min + this.random() * (rule.max - rule.min);
  }
}
