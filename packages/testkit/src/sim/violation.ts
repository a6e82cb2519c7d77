// A broken Raft property, reported with everything needed to replay it.

export type SafetyProperty =
  | 'election-safety'
  | 'log-matching'
  | 'leader-completeness'
  | 'state-machine-safety'
  | 'acknowledged-lost'
  /** A linearizable read answered at an index below one committed before it was asked. */
  | 'read-safety'
  | 'liveness'
  /** Raft saw its own invariants broken (e.g. a log lost what it acknowledged) and panicked. */
  | 'raft-panic'
  /** Anything else threw: a bug in the simulator or in raft. */
  | 'exception';

export class SimViolation extends Error {
  constructor(
    readonly seed: number,
    readonly step: number,
    readonly property: SafetyProperty,
    readonly detail: string,
    readonly replay: string,
  ) {
    super(`raft sim: seed ${seed} step ${step}: ${property} violated: ${detail}\n  replay: ${replay}`);
    this.name = 'SimViolation';
  }
}

/** Thrown by the checker; the simulator adds seed, step and replay command. */
export class PropertyError extends Error {
  constructor(
    readonly property: SafetyProperty,
    readonly detail: string,
  ) {
    super(`${property}: ${detail}`);
    this.name = 'PropertyError';
  }
}
