// Positional arguments of interaction commands (etcd's firstAsInt,
// firstAsNodeIdx, nodeIdxs): node ids are 1-based in files, indexes 0-based.
import { atoi, TestFatalError, type TestData } from './datadriven.js';

export function firstAsInt(d: TestData): number {
  const first = d.cmdArgs[0];
  if (!first) throw new TestFatalError(`${d.pos}: ${d.cmd}: missing first argument`);
  try {
    return atoi(first.key);
  } catch (e) {
    throw new TestFatalError(`${d.pos}: ${(e as Error).message}`);
  }
}

export function firstAsNodeIdx(d: TestData): number {
  return firstAsInt(d) - 1;
}

/** The 0-based node indexes given as bare arguments; key=value arguments are skipped. */
export function nodeIdxs(d: TestData): number[] {
  const out: number[] = [];
  for (const a of d.cmdArgs) {
    if (a.vals.length !== 0) continue;
    try {
      out.push(atoi(a.key) - 1);
    } catch (e) {
      throw new TestFatalError(`${d.pos}: ${(e as Error).message}`);
    }
  }
  return out;
}

