// The state of a follower as tracked by the leader. `ProgressStateType[s]`
// gives etcd's names ("StateProbe", ...).

export enum ProgressStateType {
  /**
   * The follower's last index is unknown: the leader probes it with at most
   * one append per heartbeat interval until it learns where the logs match.
   */
  StateProbe = 0,
  /** Steady state: entries are streamed eagerly, bounded by Inflights. */
  StateReplicate = 1,
  /**
   * The follower needs entries the leader no longer has; replication pauses
   * until a snapshot brings it back.
   */
  StateSnapshot = 2,
}
