// A sequential specification: what an object does when its operations run
// one at a time. The checker searches for an order of a history's
// operations that this specification accepts.
import type { Operation } from './history.js';

export type StepResult<State> = { legal: true; state: State } | { legal: false };

/** A subset of a history checked on its own: linearizability is local, so a history is linearizable iff each part is. */
export interface Partition<Input, Output> {
  /** Names the part in explanations, e.g. `key "a"`. */
  label: string;
  operations: Operation<Input, Output>[];
}

export interface Model<State, Input, Output> {
  /** Names the model in history files and explanations. */
  readonly name: string;
  init(): State;
  /**
   * Applies `input` to `state`. `output` is what the operation returned, or
   * undefined when that is unknown (an indeterminate operation): then any
   * output is accepted, so the step should be legal (the checker lets such
   * an operation take effect at the very end, which is as good as never).
   * Must be deterministic and must not modify `state`.
   */
  step(state: State, input: Input, output: Output | undefined): StepResult<State>;
  /** Equal states give equal keys: the memo of visited (operations, state) pairs uses it. */
  stateKey(state: State): string;
  /** Splits a history into independent parts (by key, for a map); default: one part. */
  partition?(operations: readonly Operation<Input, Output>[]): Partition<Input, Output>[];
  /** An operation that never changes the state: if its outcome is unknown it is left out of the check. */
  readOnly?(input: Input): boolean;
  describeOperation(input: Input, output: Output | undefined): string;
  describeState(state: State): string;
}
