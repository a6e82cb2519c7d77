// The interaction environment (etcd's rafttest.InteractionEnv): a group of
// RawNodes with in-memory storage, an in-flight message queue and a shared
// output buffer, driven command by command from data-driven scenario files.
// Each command lives in its own file, as in etcd; this class holds the state
// and offers the commands as methods.
import type { Config } from '../config.js';
import type { ConfChange, ConfChangeV2, Message, MessageType, Snapshot } from '../raftpb/types.js';
import type { RawNode } from '../raw-node.js';
import { addNodes, type ConfigStub } from './add-nodes.js';
import { campaign } from './campaign.js';
import { compact } from './compact.js';
import { deliverMsgs, type Recipient } from './deliver-msgs.js';
import { TestFatalError, type TestData } from './datadriven.js';
import { forgetLeader } from './forget-leader.js';
import { handleCommand } from './interaction-env-handler.js';
import { logLevel } from './log-level.js';
import { processAppendThread } from './process-append-thread.js';
import { processApplyThread } from './process-apply-thread.js';
import { processReady } from './process-ready.js';
import { propose } from './propose.js';
import { proposeConfChange } from './propose-conf-change.js';
import { raftLog } from './raft-log.js';
import { RedirectLogger } from './redirect-logger.js';
import { sendSnapshot } from './send-snapshot.js';
import { stabilize } from './stabilize.js';
import { status } from './status.js';
import type { EnvStorage } from './storage.js';
import { tick } from './tick.js';
import { transferLeadership } from './transfer-leadership.js';
import { errorText, isReturnedError } from './errors.js';

export interface InteractionOpts {
  /** Adjusts each node's config before its RawNode is made; must not change id or set a logger. */
  onConfig?: (cfg: Config) => void;
  /** Forces a node's next randomized election timeout; defaults to RawNode's test hook. */
  setRandomizedElectionTimeout?: (node: RawNode, timeout: number) => void;
}

/** A member of the group. */
export interface Node {
  rawNode: RawNode;
  storage: EnvStorage;
  config: Config;
  /** Pending MsgStorageAppend work (async storage writes only). */
  appendWork: Message[];
  /** Pending MsgStorageApply work (async storage writes only). */
  applyWork: Message[];
  /**
   * The state machine's states: the initial snapshot, then one per applied
   * entry (the state machine appends each entry's payload to its data).
   */
  history: Snapshot[];
}

export class InteractionEnv {
  readonly options: InteractionOpts;
  readonly nodes: Node[] = [];
  /** In-flight messages, in send order. */
  messages: Message[] = [];
  /** Output of the current command; also every node's raft logger. */
  readonly output = new RedirectLogger();

  constructor(opts: InteractionOpts = {}) {
    this.options = opts;
  }

  /**
   * Runs one data-driven block and returns its output: what raft logged and
   * what the command printed, "ok" when that is nothing. An error the command
   * returns in etcd is printed; a malformed block (TestFatalError) or a raft
   * panic propagates.
   */
  handle(d: TestData): string {
    this.output.reset();
    try {
      handleCommand(this, d);
    } catch (e) {
      if (!isReturnedError(e)) throw e;
      // Errors show even under log level NONE.
      if (this.output.quiet()) return errorText(e);
      this.output.write(errorText(e));
    }
    return this.output.length === 0 ? 'ok' : this.output.toString();
  }

  /** The node at a 0-based index; a missing node is the scenario's mistake. */
  node(idx: number): Node {
    const n = this.nodes[idx];
    if (n === undefined) throw new TestFatalError(`no node ${idx + 1} (have ${this.nodes.length})`);
    return n;
  }

  /** Runs f with its output indented by two spaces, line by line. */
  withIndent<T>(f: () => T): T {
    const orig = this.output.buf;
    this.output.buf = '';
    try {
      return f();
    } finally {
      this.output.buf = orig + indentLines(this.output.buf);
    }
  }

  // The commands, for programmatic use (node indexes are 0-based, ids 1-based).

  addNodes(n: number, cfg: ConfigStub, snap: Snapshot): void {
    addNodes(this, n, cfg, snap);
  }
  campaign(idx: number): void {
    campaign(this, idx);
  }
  compact(idx: number, newFirstIndex: number): void {
    compact(this, idx, newFirstIndex);
  }
  deliverMsgs(typ: MessageType | -1, ...rs: Recipient[]): number {
    return deliverMsgs(this, typ, ...rs);
  }
  forgetLeader(idx: number): void {
    forgetLeader(this, idx);
  }
  logLevel(name: string): void {
    logLevel(this, name);
  }
  processAppendThread(idx: number): void {
    processAppendThread(this, idx);
  }
  processApplyThread(idx: number): void {
    processApplyThread(this, idx);
  }
  processReady(idx: number): void {
    processReady(this, idx);
  }
  propose(idx: number, data: Uint8Array): void {
    propose(this, idx, data);
  }
  proposeConfChange(idx: number, cc: ConfChange | ConfChangeV2): void {
    proposeConfChange(this, idx, cc);
  }
  raftLog(idx: number): void {
    raftLog(this, idx);
  }
  sendSnapshot(fromIdx: number, toIdx: number): void {
    sendSnapshot(this, fromIdx, toIdx);
  }
  stabilize(...idxs: number[]): void {
    stabilize(this, ...idxs);
  }
  status(idx: number): void {
    status(this, idx);
  }
  tick(idx: number, num: number): void {
    tick(this, idx, num);
  }
  transferLeadership(from: number, to: number): void {
    transferLeadership(this, from, to);
  }
}

/** Go's bufio line scan, each line re-emitted as "  line\n". */
function indentLines(s: string): string {
  if (s === '') return '';
  const lines = s.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines.map((l) => '  ' + (l.endsWith('\r') ? l.slice(0, -1) : l) + '\n').join('');
}

