// The suite's side of one node process: forks node-process.js and turns its
// IPC messages into awaited replies. If the process dies, every pending
// request fails rather than hanging.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Envelope, Reply, Request } from './protocol.js';

/**
 * The compiled child entry, bench/dist/cluster-mp/node-process.js: next to
 * this file when it runs compiled; from its source (bench/src/cluster-mp/,
 * as the tests load it) the same file in dist/, which tsc -b has built.
 */
const ENTRY = fileURLToPath(new URL('../../dist/cluster-mp/node-process.js', import.meta.url));

type ReplyOf<T extends Reply['type']> = Extract<Reply, { type: T }>;

export class NodeHandle {
  private readonly child: ChildProcess;
  private readonly pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  private nextSeq = 1;
  private exited: Promise<void>;

  constructor(readonly id: number) {
    // stdout/stderr inherited: the node's error log lines reach the terminal.
    // Not the parent's node flags: the child runs compiled code, and a test
    // runner's --conditions=source would resolve its imports to TypeScript.
    this.child = fork(ENTRY, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] });
    this.child.on('message', (msg: Envelope<Reply>) => {
      const waiter = this.pending.get(msg.seq);
      if (waiter === undefined) return;
      this.pending.delete(msg.seq);
      if (msg.type === 'error') waiter.reject(new Error(`node ${id}: ${msg.message}`));
      else waiter.resolve(msg);
    });
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        const why = new Error(`node ${id}'s process exited (${signal ?? `code ${code}`})`);
        for (const waiter of this.pending.values()) waiter.reject(why);
        this.pending.clear();
        resolve();
      });
    });
    this.child.on('error', () => undefined); // surfaces as 'exit' or a failed send
  }

  request<T extends Reply['type']>(req: Request, expect: T): Promise<ReplyOf<T>> {
    const seq = this.nextSeq++;
    return new Promise<Reply>((resolve, reject) => {
      if (this.child.exitCode !== null || this.child.signalCode !== null || !this.child.connected) {
        reject(new Error(`node ${this.id}'s process is gone`));
        return;
      }
      this.pending.set(seq, { resolve, reject });
      this.child.send({ ...req, seq } satisfies Envelope<Request>, (e) => {
        if (e === null) return;
        this.pending.delete(seq);
        reject(e);
      });
    }).then((reply) => {
      if (reply.type !== expect) throw new Error(`node ${this.id}: expected ${expect}, got ${reply.type}`);
      return reply as ReplyOf<T>;
    });
  }

  /** Asks the node to stop; kills the process if it has not exited within `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
      void this.request({ type: 'stop' }, 'stopped').catch(() => this.child.kill('SIGKILL'));
      await this.exited;
      clearTimeout(timer);
    }
  }
}
