// Snapshots of a node's state for observers (etcd's status.go).
import type { HardState } from './raftpb/types.js';
import type { SoftState } from './raft.js';
import type { Progress } from './tracker/progress.js';
import type { TrackerConfig } from './tracker/tracker.js';

export interface BasicStatus {
  id: number;
  hardState: HardState;
  softState: SoftState;
  applied: number;
  leadTransferee: number;
}

export interface Status extends BasicStatus {
  config: TrackerConfig;
  /** Only populated on the leader; copies, safe to keep. */
  progress: Map<number, Progress>;
}
