// A full garbage collection before each memory sample, so heapUsed shows
// what is live rather than when the collector last ran: node's gc() when
// run with --expose-gc, else the same function obtained by turning the flag
// on at run time (V8 allows it, and a new context then sees gc), else none.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export type GcMode = 'forced (--expose-gc)' | 'forced (flag set at run time)' | 'none (sampled as-is)';

export function findGc(): { gc: (() => void) | undefined; mode: GcMode } {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (typeof exposed === 'function') return { gc: exposed, mode: 'forced (--expose-gc)' };
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    if (typeof gc === 'function') return { gc: gc as () => void, mode: 'forced (flag set at run time)' };
  } catch {
    // not available in this runtime
  }
  return { gc: undefined, mode: 'none (sampled as-is)' };
}
