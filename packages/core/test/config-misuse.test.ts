// Invalid raft configurations: each fails when the node is built, with
// ErrInvalidConfig (a stable name) and a message naming the field.
import { describe, expect, it } from 'vitest';
import { type Config, ReadOnlyOption } from '../src/config.js';
import { ErrInvalidConfig, RaftError } from '../src/errors.js';
import { RawNode } from '../src/raw-node.js';
import { MemoryStorage } from '../src/storage.js';
import { LocalAppendThread, LocalApplyThread } from '../src/util/messages.js';

function base(): Config {
  return { id: 1, electionTick: 10, heartbeatTick: 1, storage: new MemoryStorage(), maxInflightMsgs: 256 };
}

function refused(overrides: Partial<Record<keyof Config, unknown>>, message: RegExp): void {
  const config = { ...base(), ...overrides } as Config;
  let caught: unknown;
  try {
    new RawNode(config);
  } catch (e) {
    caught = e;
  }
  expect(caught, JSON.stringify(overrides, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v))).toBeInstanceOf(ErrInvalidConfig);
  const err = caught as ErrInvalidConfig;
  expect(err).toBeInstanceOf(RaftError);
  expect(err.name).toBe('ErrInvalidConfig');
  expect(err.message).toMatch(message);
}

describe('core Config validation', () => {
  it('accepts the base config', () => {
    expect(() => new RawNode(base())).not.toThrow();
  });

  it('refuses ids that are none, negative, fractional, unsafe or reserved for local targets', () => {
    refused({ id: 0 }, /none as id/);
    for (const id of [-1, 1.5, 2 ** 53, Number.NaN, Number.POSITIVE_INFINITY, '1']) refused({ id }, /invalid id/);
    refused({ id: LocalAppendThread }, /local target/);
    refused({ id: LocalApplyThread }, /local target/);
  });

  it('refuses ticks that are not positive integers, and an election tick not above the heartbeat tick', () => {
    for (const heartbeatTick of [0, -1, 1.5, Number.NaN, undefined]) refused({ heartbeatTick }, /heartbeat tick/);
    for (const electionTick of [1, 0, -5, 10.5, Number.NaN, undefined]) refused({ electionTick }, /election tick/);
    refused({ electionTick: 3, heartbeatTick: 3 }, /election tick must be greater than heartbeat tick/);
    refused({ electionTick: 2, heartbeatTick: 3 }, /election tick must be greater than heartbeat tick/);
  });

  it('refuses a missing storage', () => {
    refused({ storage: undefined }, /storage/);
  });

  it('refuses negative, fractional or non-numeric sizes and counts', () => {
    for (const k of ['applied', 'maxSizePerMsg', 'maxCommittedSizePerReady', 'maxUncommittedEntriesSize', 'maxInflightBytes'] as const) {
      for (const v of [-1, 1.5, Number.NaN, '5']) refused({ [k]: v }, new RegExp(k));
    }
  });

  it('refuses maxInflightMsgs that is not a positive integer', () => {
    for (const maxInflightMsgs of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, undefined]) refused({ maxInflightMsgs }, /inflight messages/);
  });

  it('refuses maxInflightBytes below maxSizePerMsg', () => {
    refused({ maxSizePerMsg: 1000, maxInflightBytes: 999 }, /max inflight bytes/);
  });

  it('refuses lease-based reads without checkQuorum, and unknown read-only options', () => {
    refused({ readOnlyOption: ReadOnlyOption.ReadOnlyLeaseBased }, /CheckQuorum/);
    refused({ readOnlyOption: 7 }, /readOnlyOption/);
  });

  it('refuses a randomInt or logger of the wrong kind', () => {
    refused({ randomInt: 42 }, /randomInt/);
    refused({ logger: 'console' }, /logger/);
  });
});
