// The messages between the suite (parent) and a node's process (child) over
// the fork IPC channel. Every request carries a `seq` its reply repeats, so
// the parent can await a reply per request.
import type { ClosedLoopOptions, ClosedLoopResult } from '../cluster/closed-loop.js';
import type { StorageKind } from '../cluster/bench-cluster.js';

/** The buses whose servers a separate process can reach (the in-process bus cannot span processes). */
export type NetworkBus = 'redis' | 'nats';

export interface StartRequest {
  type: 'start';
  id: number;
  clusterId: string;
  peers: number[];
  bus: NetworkBus;
  url: string;
  storage: StorageKind;
  /** The file storage's directory; the parent makes and removes it. */
  dir?: string;
  seed: number;
}

export interface NodeState {
  role: string;
  term: number;
  commit: number;
  applied: number;
}

export type Request =
  | StartRequest
  | { type: 'status' }
  | ({ type: 'load' } & ClosedLoopOptions)
  | { type: 'stop' };

export type Reply =
  | { type: 'started' }
  | { type: 'status'; state: NodeState }
  | { type: 'loaded'; result: ClosedLoopResult }
  | { type: 'stopped' }
  | { type: 'error'; message: string };

export type Envelope<T> = T & { seq: number };
