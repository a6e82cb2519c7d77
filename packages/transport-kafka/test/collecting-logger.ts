// A Logger for tests that read what the transport logged: warnings and
// errors go into `lines` (debug and info are dropped); fatal and panic throw.
import type { Logger } from '@raftbus/core';

export function collectingLogger(lines: string[]): Logger {
  return {
    debug() {},
    info() {},
    warning: (m) => lines.push(m),
    error: (m) => lines.push(m),
    fatal: (m) => {
      throw new Error(m);
    },
    panic: (m) => {
      throw new Error(m);
    },
  };
}
