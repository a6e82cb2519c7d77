// The Raft protocol's state machine (etcd-raft's raft.go): roles, elections,
// replication, commit, reads and leader transfer. Driven only through step()
// and tick(); it never does I/O and never reads a clock.

/** Placeholder node id used when there is no leader. */
export const None = 0;

export enum StateType {
  StateFollower = 0,
  StateCandidate = 1,
  StateLeader = 2,
  StatePreCandidate = 3,
}

/** Volatile state worth reporting when it changes (leader and role). */
export interface SoftState {
  lead: number;
  raftState: StateType;
}

/**
 * The answer to a ReadIndex request: reads at `index` or later are
 * linearizable once the state machine has applied `index`.
 */
export interface ReadState {
  index: number;
  requestCtx: Uint8Array;
}

export enum CampaignType {
  PreElection = 'CampaignPreElection',
  Election = 'CampaignElection',
  Transfer = 'CampaignTransfer',
}
