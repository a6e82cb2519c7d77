// raft-state: each node's role, voter status, term and leader, as the node itself sees them.
import type { Status } from '../status.js';
import { stateTypeName } from '../util/describe.js';
import type { InteractionEnv } from './interaction-env.js';

/** Whether id is a voter (incoming or outgoing) in the node's own config. */
function isVoter(id: number, st: Status): boolean {
  for (const v of st.config.voters.ids()) if (v === id) return true;
  return false;
}

export function handleRaftState(env: InteractionEnv): void {
  for (const n of env.nodes) {
    const st = n.rawNode.status();
    const voterStatus = isVoter(st.id, st) ? '(Voter)' : '(Non-Voter)';
    env.output.write(
      `${st.id}: ${stateTypeName(st.softState.raftState)} ${voterStatus} Term:${st.hardState.term} Lead:${st.softState.lead}\n`,
    );
  }
}
