// What shapes one simulation run. Everything not listed here (fault rates,
// timeouts, flow-control limits, cluster size) is drawn from the seed, so a
// seed plus these options replays a run exactly.

/**
 * Deliberate bugs the simulator can plant, to prove the checker catches them:
 *  - forget-vote: a node does not keep its vote: it reads vote 0 after a restart and before each vote request, so it can vote twice in one term.
 *  - send-before-fsync: messages leave as soon as a Ready is written, before it is fsynced.
 *  - skip-apply: a node's state machine silently skips one committed entry (the fourth it is handed).
 *  - local-read: a read is answered at the asked node's own commit index, without asking the leader.
 *  - lost-read: nodes drop the answers raft gives them to reads (their ReadStates).
 */
export type PlantedBug = 'forget-vote' | 'send-before-fsync' | 'skip-apply' | 'local-read' | 'lost-read';

export const PLANTED_BUGS: readonly PlantedBug[] = ['forget-vote', 'send-before-fsync', 'skip-apply', 'local-read', 'lost-read'];

export interface SimOptions {
  seed: number;
  /** Steps of the fault phase; each step is about one tick. */
  steps?: number;
  /** Drive RawNode with asyncStorageWrites (storage work as MsgStorageAppend/Apply). */
  asyncStorageWrites?: boolean;
  /**
   * Clients also ask random nodes for linearizable reads (ReadIndex).
   * Default true; false replays runs from before reads were simulated
   * (reads change the messages sent, so every later choice).
   */
  reads?: boolean;
  bug?: PlantedBug;
  /** Receives one line per event (crash, partition, proposal, delivery, ...). */
  trace?: (line: string) => void;
}

export const DEFAULT_STEPS = 200;

/** The one-line command that replays a run with these options. */
export function replayCommand(o: SimOptions): string {
  let cmd = `pnpm sim --seed ${o.seed}`;
  if (o.steps !== undefined && o.steps !== DEFAULT_STEPS) cmd += ` --steps ${o.steps}`;
  if (o.asyncStorageWrites) cmd += ' --async';
  if (o.reads === false) cmd += ' --no-reads';
  if (o.bug !== undefined) cmd += ` --bug ${o.bug}`;
  return cmd;
}
