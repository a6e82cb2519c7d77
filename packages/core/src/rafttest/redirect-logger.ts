// The env's raft logger (etcd's RedirectLogger): log lines go into the
// output of the command being run, prefixed with their level, so scenario
// files show what raft said. At level NONE all output is silenced, including
// the handlers' own (errors excepted; see InteractionEnv.handle).
import { RaftPanic } from '../errors.js';
import type { Logger } from '../logger.js';

export const LEVEL_NAMES = ['DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL', 'NONE'] as const;

const DEBUG = 0;
const INFO = 1;
const WARN = 2;
const ERROR = 3;
const FATAL = 4;

export class RedirectLogger implements Logger {
  /** Where output goes; swapped by InteractionEnv.withIndent. */
  buf = '';
  /** Index into LEVEL_NAMES: messages below it are dropped. */
  lvl = DEBUG;

  quiet(): boolean {
    return this.lvl === LEVEL_NAMES.length - 1;
  }

  /** Handler output; silenced under NONE. */
  write(s: string): void {
    if (!this.quiet()) this.buf += s;
  }

  reset(): void {
    this.buf = '';
  }

  get length(): number {
    return this.buf.length;
  }

  toString(): string {
    return this.buf;
  }

  private print(lvl: number, msg: string): void {
    if (this.lvl > lvl) return;
    // Go's printf adds the newline unless the message brings one.
    this.write(`${LEVEL_NAMES[lvl]} ${msg}${msg.endsWith('\n') ? '' : '\n'}`);
  }

  debug(msg: string): void {
    this.print(DEBUG, msg);
  }
  info(msg: string): void {
    this.print(INFO, msg);
  }
  warning(msg: string): void {
    this.print(WARN, msg);
  }
  error(msg: string): void {
    this.print(ERROR, msg);
  }
  fatal(msg: string): never {
    this.print(FATAL, msg);
    throw new RaftPanic(msg);
  }
  panic(msg: string): never {
    this.print(FATAL, msg);
    throw new RaftPanic(msg);
  }
}
