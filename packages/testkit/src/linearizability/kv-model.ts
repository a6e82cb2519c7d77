// The sequential specification of the kv example's service: a map of string
// keys to string values with put, get and delete. It follows the HTTP API
// (examples/kv/src/server.ts): GET answers the value or 404 (absent, here
// null); PUT and DELETE may report whether the key held a value before
// (KvResult.existed; the HTTP API reports it for DELETE only). Keys are
// independent, so a history is checked key by key, each with a state of one
// value (or null).
import type { Operation } from './history.js';
import type { Model, Partition, StepResult } from './model.js';

export type KvInput = { f: 'put'; key: string; value: string } | { f: 'get'; key: string } | { f: 'delete'; key: string };

export interface KvOutput {
  /** A get's answer: the value, or null if the key had none. */
  value?: string | null;
  /** Whether the key held a value before a put or delete, when the service said. */
  existed?: boolean;
}

/** One key's value; null when absent. */
export type KvKeyState = string | null;

export type KvOperation = Operation<KvInput, KvOutput>;

function byKey(operations: readonly KvOperation[]): Partition<KvInput, KvOutput>[] {
  const keys = new Map<string, KvOperation[]>();
  for (const op of operations) {
    let list = keys.get(op.input.key);
    if (list === undefined) keys.set(op.input.key, (list = []));
    list.push(op);
  }
  return [...keys]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, ops]) => ({ label: `key ${JSON.stringify(key)}`, operations: ops }));
}

function existedMatches(state: KvKeyState, output: KvOutput | undefined): boolean {
  return output?.existed === undefined || output.existed === (state !== null);
}

export const kvModel: Model<KvKeyState, KvInput, KvOutput> = {
  name: 'kv',
  init: () => null,
  step(state, input, output): StepResult<KvKeyState> {
    switch (input.f) {
      case 'put':
        return existedMatches(state, output) ? { legal: true, state: input.value } : { legal: false };
      case 'delete':
        return existedMatches(state, output) ? { legal: true, state: null } : { legal: false };
      case 'get':
        return output === undefined || output.value === state ? { legal: true, state } : { legal: false };
    }
  },
  // A leading character keeps null apart from the string "null".
  stateKey: (state) => (state === null ? '-' : `=${state}`),
  partition: byKey,
  readOnly: (input) => input.f === 'get',
  describeOperation(input, output) {
    const key = JSON.stringify(input.key);
    const call = input.f === 'put' ? `put(${key}, ${JSON.stringify(input.value)})` : `${input.f}(${key})`;
    if (output === undefined) return `${call} → ?`;
    if (input.f === 'get') return `${call} → ${output.value === null ? 'absent' : JSON.stringify(output.value)}`;
    return output.existed === undefined ? `${call} → ok` : `${call} → ok (${output.existed ? 'existed' : 'was absent'})`;
  },
  describeState: (state) => (state === null ? 'absent' : JSON.stringify(state)),
};
