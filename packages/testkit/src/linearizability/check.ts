// The linearizability check: Wing & Gong's search for a sequential order of
// the operations that respects real time (an operation that returned before
// another was called comes first) and that the model accepts, with Lowe's
// memo of visited (set of linearized operations, model state) pairs, which
// prunes the search to what Porcupine makes of it. A history is split first
// into independent parts (by key, for a map), each searched alone.
//
// The search walks a list of call and return events in time order. It
// linearizes the first call it can, lifting the call and its return out of
// the list, and starts again from the front; meeting a return means that
// operation cannot be linearized here, so it undoes the last choice. An
// indeterminate operation's return is at infinity: it may take effect any
// time after its call, or never (left unlinearized at the end).
import type { Operation } from './history.js';
import type { Model, Partition } from './model.js';

export type Verdict = 'linearizable' | 'not-linearizable' | 'unknown';

export interface CheckOptions {
  /** Most search steps over all parts before giving up with 'unknown'. Default 10 million. */
  maxSteps?: number;
  /** Most milliseconds of searching before giving up with 'unknown'. Default 30 000. */
  timeoutMs?: number;
}

/** One operation of a partial linearization, with the model's state after it. */
export interface LinearizedStep<Input, Output> {
  operation: Operation<Input, Output>;
  stateAfter: string;
}

/** Why a part of the history is not linearizable. */
export interface Violation<Input, Output> {
  /** The part (e.g. `key "a"`). */
  partition: string;
  /** The longest order of operations the search found legal, from the start. */
  longestPrefix: LinearizedStep<Input, Output>[];
  /**
   * After that prefix, the operations that could come next (called before
   * the earliest return among the rest), none of which gives the rest an
   * order; `legalNext` says whether the model accepts it right after the prefix.
   */
  candidates: { operation: Operation<Input, Output>; legalNext: boolean }[];
}

export interface CheckResult<Input, Output> {
  verdict: Verdict;
  /** Operations checked (fail and indeterminate read-only ones are left out). */
  operations: number;
  partitions: number;
  steps: number;
  /** Set when the verdict is not-linearizable: the first part found so. */
  violation?: Violation<Input, Output>;
  /** Set when the verdict is unknown: which part ran out of budget, and which budget. */
  unknown?: { partition: string; reason: string };
  /** A few lines a person can read: the verdict, and for a violation the prefix and the stuck operations. */
  explanation: string;
}

const CALL = 0;
const RETURN = 1;

/** What to check of an operation: its returned output, or unknown for an indeterminate one. */
interface Entry<Input, Output> {
  op: Operation<Input, Output>;
  returnAt: number;
  output: Output | undefined;
}

/** Checks `operations` against `model`. Fail operations are ignored; info operations may or may not have taken effect. */
export function checkLinearizability<State, Input, Output>(
  model: Model<State, Input, Output>,
  operations: readonly Operation<Input, Output>[],
  options: CheckOptions = {},
): CheckResult<Input, Output> {
  const budget = {
    steps: options.maxSteps ?? 10_000_000,
    deadline: performance.now() + (options.timeoutMs ?? 30_000),
    used: 0,
  };
  const parts = model.partition?.(operations) ?? [{ label: 'all operations', operations: [...operations] }];
  let checked = 0;
  let unknown: { partition: string; reason: string } | undefined;
  for (const part of parts) {
    const entries = toEntries(model, part);
    checked += entries.length;
    const outcome = searchPartition(model, part.label, entries, budget);
    if (outcome.kind === 'violation') {
      const violation = outcome.violation;
      return {
        verdict: 'not-linearizable',
        operations: checked,
        partitions: parts.length,
        steps: budget.used,
        violation,
        explanation: explainViolation(model, violation),
      };
    }
    if (outcome.kind === 'unknown') {
      // The budget is shared: the parts not searched yet would get none.
      unknown = { partition: part.label, reason: outcome.reason };
      break;
    }
  }
  const verdict: Verdict = unknown === undefined ? 'linearizable' : 'unknown';
  return {
    verdict,
    operations: checked,
    partitions: parts.length,
    steps: budget.used,
    ...(unknown !== undefined && { unknown }),
    explanation:
      unknown === undefined
        ? `linearizable (${model.name}): ${checked} operations in ${parts.length} parts, ${budget.used} search steps`
        : `unknown (${model.name}): the search of ${unknown.partition} ran out of budget (${unknown.reason}) after ${budget.used} steps`,
  };
}

function toEntries<State, Input, Output>(model: Model<State, Input, Output>, part: Partition<Input, Output>): Entry<Input, Output>[] {
  const entries: Entry<Input, Output>[] = [];
  for (const op of part.operations) {
    if (op.status === 'fail') continue;
    if (op.status === 'info') {
      // A read that may or may not have happened constrains nothing.
      if (model.readOnly?.(op.input) === true) continue;
      entries.push({ op, returnAt: Number.POSITIVE_INFINITY, output: undefined });
      continue;
    }
    if (op.return === undefined || op.output === undefined) {
      throw new Error(`operation ${op.id} is ok but has no ${op.return === undefined ? 'return time' : 'output'}`);
    }
    if (op.return < op.call) throw new Error(`operation ${op.id} returns (${op.return}) before its call (${op.call})`);
    entries.push({ op, returnAt: op.return, output: op.output });
  }
  return entries;
}

type Outcome<Input, Output> =
  | { kind: 'linearizable' }
  | { kind: 'violation'; violation: Violation<Input, Output> }
  | { kind: 'unknown'; reason: string };

function searchPartition<State, Input, Output>(
  model: Model<State, Input, Output>,
  label: string,
  entries: readonly Entry<Input, Output>[],
  budget: { steps: number; deadline: number; used: number },
): Outcome<Input, Output> {
  const n = entries.length;
  if (n === 0) return { kind: 'linearizable' };

  // Events 0..2n-1 (a call and a return per operation) in time order; ties
  // put calls first, treating touching operations as concurrent (never a
  // false alarm). A doubly linked list through prev/next, head at 2n, -1 ends it.
  const events: { kind: number; op: number; at: number }[] = [];
  entries.forEach((e, i) => {
    events.push({ kind: CALL, op: i, at: e.op.call }, { kind: RETURN, op: i, at: e.returnAt });
  });
  events.sort((a, b) => a.at - b.at || a.kind - b.kind || a.op - b.op);
  const head = 2 * n;
  const kind = new Uint8Array(2 * n);
  const opOf = new Int32Array(2 * n);
  const partner = new Int32Array(2 * n);
  const prev = new Int32Array(2 * n + 1);
  const next = new Int32Array(2 * n + 1);
  const callEvent = new Int32Array(n);
  const returnEvent = new Int32Array(n);
  events.forEach((ev, i) => {
    kind[i] = ev.kind;
    opOf[i] = ev.op;
    if (ev.kind === CALL) callEvent[ev.op] = i;
    else returnEvent[ev.op] = i;
    prev[i] = i === 0 ? head : i - 1;
    next[i] = i === 2 * n - 1 ? -1 : i + 1;
  });
  next[head] = 0;
  for (let op = 0; op < n; op++) {
    partner[callEvent[op]!] = returnEvent[op]!;
    partner[returnEvent[op]!] = callEvent[op]!;
  }
  const unlink = (e: number): void => {
    next[prev[e]!] = next[e]!;
    if (next[e] !== -1) prev[next[e]!] = prev[e]!;
  };
  const relink = (e: number): void => {
    if (next[e] !== -1) prev[next[e]!] = e;
    next[prev[e]!] = e;
  };
  // Lifting a call lifts its return; undone in the reverse order (dancing links).
  const lift = (call: number): void => {
    unlink(call);
    unlink(partner[call]!);
  };
  const unlift = (call: number): void => {
    relink(partner[call]!);
    relink(call);
  };

  const linearized = new Bitset(n);
  const memo = new Memo();
  const stack: { call: number; state: State }[] = [];
  let state = model.init();
  // The deepest stack seen, as (call, state after it); its first `agreeing`
  // entries are still the stack's, so a new deepest copies only the rest.
  const longest: { call: number; state: State }[] = [];
  let agreeing = 0;
  let entry = next[head]!;

  while (next[head] !== -1) {
    budget.used++;
    if (budget.used > budget.steps) return { kind: 'unknown', reason: `more than ${budget.steps} steps` };
    if ((budget.used & 0x3ff) === 0 && performance.now() > budget.deadline) return { kind: 'unknown', reason: 'out of time' };
    if (kind[entry] === CALL) {
      const op = opOf[entry]!;
      const e = entries[op]!;
      const result = model.step(state, e.op.input, e.output);
      if (result.legal) {
        linearized.set(op);
        if (memo.add(linearized, model.stateKey(result.state))) {
          stack.push({ call: entry, state });
          state = result.state;
          lift(entry);
          if (stack.length > longest.length) {
            longest.length = agreeing;
            for (let i = agreeing; i < stack.length; i++) longest.push({ call: stack[i]!.call, state: stack[i + 1]?.state ?? state });
            agreeing = stack.length;
          }
          entry = next[head]!;
          continue;
        }
        linearized.clear(op);
      }
      entry = next[entry]!;
    } else {
      // A return met: its operation had to be linearized by now and is not.
      const top = stack.pop();
      if (top === undefined) {
        return { kind: 'violation', violation: describeViolation(model, label, entries, longest.map((s) => ({ op: opOf[s.call]!, state: s.state }))) };
      }
      state = top.state;
      agreeing = Math.min(agreeing, stack.length);
      linearized.clear(opOf[top.call]!);
      unlift(top.call);
      entry = next[top.call]!;
    }
  }
  return { kind: 'linearizable' };
}

function describeViolation<State, Input, Output>(
  model: Model<State, Input, Output>,
  label: string,
  entries: readonly Entry<Input, Output>[],
  prefix: { op: number; state: State }[],
): Violation<Input, Output> {
  const done = new Set(prefix.map((p) => p.op));
  const rest = entries.map((e, i) => ({ e, i })).filter(({ i }) => !done.has(i));
  const firstReturn = rest.reduce((min, { e }) => Math.min(min, e.returnAt), Number.POSITIVE_INFINITY);
  const stateAfter = prefix.length === 0 ? model.init() : prefix[prefix.length - 1]!.state;
  return {
    partition: label,
    longestPrefix: prefix.map((p) => ({ operation: entries[p.op]!.op, stateAfter: model.describeState(p.state) })),
    candidates: rest
      .filter(({ e }) => e.op.call <= firstReturn)
      .sort((a, b) => a.e.op.call - b.e.op.call)
      .map(({ e }) => ({ operation: e.op, legalNext: model.step(stateAfter, e.op.input, e.output).legal })),
  };
}

/** One line for an operation: `#12 client 3 [10.000, 12.500] get("a") → "1"`. */
export function describeOperation<State, Input, Output>(model: Model<State, Input, Output>, op: Operation<Input, Output>): string {
  const end = op.status === 'info' ? '?' : op.return?.toFixed(3);
  const what = model.describeOperation(op.input, op.status === 'ok' ? op.output : undefined);
  return `#${op.id} client ${op.client} [${op.call.toFixed(3)}, ${end}] ${what}${op.status === 'info' ? ' (indeterminate)' : ''}`;
}

function explainViolation<State, Input, Output>(model: Model<State, Input, Output>, v: Violation<Input, Output>): string {
  const lines = [`not linearizable (${model.name}): ${v.partition}`];
  const shown = 20;
  const prefix = v.longestPrefix;
  lines.push(`  longest linearizable prefix: ${prefix.length} operations${prefix.length > shown ? ` (the last ${shown} shown)` : ''}`);
  for (const step of prefix.slice(-shown)) lines.push(`    ${describeOperation(model, step.operation)}   ⇒ ${step.stateAfter}`);
  const state = prefix.length === 0 ? model.describeState(model.init()) : prefix[prefix.length - 1]!.stateAfter;
  lines.push(`  then, in state ${state}, no order of the rest works; the operations that could come next:`);
  for (const c of v.candidates) {
    lines.push(`    ${describeOperation(model, c.operation)}   ${c.legalNext ? '(legal here, but leaves no order for the rest)' : '(illegal here)'}`);
  }
  return lines.join('\n');
}

/** Which operations are linearized, as bits, with a Zobrist hash kept up to date. */
class Bitset {
  readonly words: Uint32Array;
  hash = 0;
  private readonly codes: Uint32Array;

  constructor(size: number) {
    this.words = new Uint32Array(Math.ceil(size / 32));
    // Fixed pseudo-random codes (xorshift), so runs are reproducible.
    this.codes = new Uint32Array(size);
    let x = 0x9e3779b9;
    for (let i = 0; i < size; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      this.codes[i] = x >>> 0;
    }
  }

  set(i: number): void {
    this.words[i >>> 5]! |= 1 << (i & 31);
    this.hash = (this.hash ^ this.codes[i]!) >>> 0;
  }

  clear(i: number): void {
    this.words[i >>> 5]! &= ~(1 << (i & 31));
    this.hash = (this.hash ^ this.codes[i]!) >>> 0;
  }
}

/** The (linearized set, state) pairs seen: the search never explores one twice. */
class Memo {
  private readonly buckets = new Map<string, Uint32Array[]>();

  /** Adds the pair; false when it was already there. */
  add(bits: Bitset, stateKey: string): boolean {
    const key = `${bits.hash}|${stateKey}`;
    const bucket = this.buckets.get(key);
    if (bucket === undefined) {
      this.buckets.set(key, [bits.words.slice()]);
      return true;
    }
    if (bucket.some((words) => sameWords(words, bits.words))) return false;
    bucket.push(bits.words.slice());
    return true;
  }
}

function sameWords(a: Uint32Array, b: Uint32Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
