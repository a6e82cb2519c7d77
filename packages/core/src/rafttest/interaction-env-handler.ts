// Dispatch of data-driven commands to their handlers (etcd's
// InteractionEnv.Handle). Each handler either prints to env.output or throws:
// an error etcd's handler would return becomes output (see
// InteractionEnv.handle), anything else fails the scenario.
import { handleAddNodes } from './add-nodes.js';
import { handleCampaign } from './campaign.js';
import { handleCompact } from './compact.js';
import type { TestData } from './datadriven.js';
import { handleDeliverMsgs } from './deliver-msgs.js';
import { EnvError } from './errors.js';
import { handleForgetLeader } from './forget-leader.js';
import type { InteractionEnv } from './interaction-env.js';
import { handleLogLevel } from './log-level.js';
import { handleProcessAppendThread } from './process-append-thread.js';
import { handleProcessApplyThread } from './process-apply-thread.js';
import { handleProcessReady } from './process-ready.js';
import { handlePropose } from './propose.js';
import { handleProposeConfChange } from './propose-conf-change.js';
import { handleRaftLog } from './raft-log.js';
import { handleRaftState } from './raft-state.js';
import { handleReportUnreachable } from './report-unreachable.js';
import { handleSendSnapshot } from './send-snapshot.js';
import { handleSetRandomizedElectionTimeout } from './set-randomized-election-timeout.js';
import { handleStabilize } from './stabilize.js';
import { handleStatus } from './status.js';
import { handleTickElection, handleTickHeartbeat } from './tick.js';
import { handleTransferLeadership } from './transfer-leadership.js';

type Handler = (env: InteractionEnv, d: TestData) => void;

const HANDLERS: Record<string, Handler> = {
  // A no-op to set a debugger breakpoint on, ahead of a block of interest.
  _breakpoint: () => {},
  // add-nodes <n> voters=(1 2 3) learners=(4 5) index=2 content=foo async-storage-writes=true
  'add-nodes': handleAddNodes,
  // campaign <id>
  campaign: handleCampaign,
  // compact <id> <new-first-index>
  compact: handleCompact,
  // deliver-msgs <id> type=MsgApp drop=(2,3)
  'deliver-msgs': handleDeliverMsgs,
  // process-ready <id>...
  'process-ready': handleProcessReady,
  // process-append-thread <id>...
  'process-append-thread': handleProcessAppendThread,
  // process-apply-thread <id>...
  'process-apply-thread': handleProcessApplyThread,
  // log-level WARN
  'log-level': handleLogLevel,
  // raft-log <id>
  'raft-log': handleRaftLog,
  // raft-state
  'raft-state': (env) => handleRaftState(env),
  // set-randomized-election-timeout <id> timeout=5
  'set-randomized-election-timeout': handleSetRandomizedElectionTimeout,
  // stabilize [<id>...] [log-level=<level>]
  stabilize: handleStabilize,
  // status <id>
  status: handleStatus,
  // tick-election <id>
  'tick-election': handleTickElection,
  // tick-heartbeat <id>
  'tick-heartbeat': handleTickHeartbeat,
  // transfer-leadership from=1 to=4
  'transfer-leadership': handleTransferLeadership,
  // forget-leader <id>
  'forget-leader': handleForgetLeader,
  // send-snapshot <from> <to>
  'send-snapshot': handleSendSnapshot,
  // propose <id> <data>
  propose: handlePropose,
  // propose-conf-change <id> [v1=<bool>] [transition=auto|implicit|explicit], changes as input
  'propose-conf-change': handleProposeConfChange,
  // report-unreachable <id> <peer>
  'report-unreachable': handleReportUnreachable,
};

export function handleCommand(env: InteractionEnv, d: TestData): void {
  const h = Object.hasOwn(HANDLERS, d.cmd) ? HANDLERS[d.cmd] : undefined;
  if (!h) throw new EnvError('unknown command');
  h(env, d);
}

/** The commands the env understands. */
export const COMMANDS: readonly string[] = Object.keys(HANDLERS);
