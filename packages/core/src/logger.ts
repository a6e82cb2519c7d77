// raft reports what it does through a Logger; messages arrive formatted.
// `fatal` and `panic` must not return: raft relies on them to stop a step
// whose invariants are broken (the default logger throws RaftPanic).
import { RaftPanic } from './errors.js';

export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warning(msg: string): void;
  error(msg: string): void;
  fatal(msg: string): never;
  panic(msg: string): never;
}

export enum LogLevel {
  Debug = 0,
  Info = 1,
  Warning = 2,
  Error = 3,
  Fatal = 4,
  None = 5,
}

/** Logs at `level` and above to stderr (etcd's default logger logs at Info). */
export class ConsoleLogger implements Logger {
  constructor(public level: LogLevel = LogLevel.Info) {}

  private write(lvl: LogLevel, tag: string, msg: string): void {
    if (this.level <= lvl) process.stderr.write(`raft ${tag}: ${msg}\n`);
  }
  debug(msg: string): void {
    this.write(LogLevel.Debug, 'DEBUG', msg);
  }
  info(msg: string): void {
    this.write(LogLevel.Info, 'INFO', msg);
  }
  warning(msg: string): void {
    this.write(LogLevel.Warning, 'WARN', msg);
  }
  error(msg: string): void {
    this.write(LogLevel.Error, 'ERROR', msg);
  }
  fatal(msg: string): never {
    this.write(LogLevel.Fatal, 'FATAL', msg);
    throw new RaftPanic(msg);
  }
  panic(msg: string): never {
    this.write(LogLevel.Fatal, 'PANIC', msg);
    throw new RaftPanic(msg);
  }
}

/** Discards everything but still stops on fatal/panic. */
export const discardLogger: Logger = {
  debug() {},
  info() {},
  warning() {},
  error() {},
  fatal(msg: string): never {
    throw new RaftPanic(msg);
  },
  panic(msg: string): never {
    throw new RaftPanic(msg);
  },
};

let defaultLogger: Logger = new ConsoleLogger();

export function getLogger(): Logger {
  return defaultLogger;
}

export function setLogger(l: Logger): void {
  defaultLogger = l;
}
