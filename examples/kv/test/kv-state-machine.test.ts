import { describe, expect, it } from 'vitest';
import { decodeCommand, encodeCommand, ErrMalformedKvData, KvStateMachine } from '../src/kv-state-machine.js';

const put = (key: string, value: string): Uint8Array => encodeCommand({ op: 'put', key, value });
const del = (key: string): Uint8Array => encodeCommand({ op: 'delete', key });

describe('kv commands', () => {
  it('round-trip through their binary encoding', () => {
    for (const cmd of [
      { op: 'put', key: 'a', value: 'b' },
      { op: 'put', key: 'clé/ü', value: '' },
      { op: 'put', key: 'k', value: 'line\nbreak 🚀' },
      { op: 'delete', key: 'gone' },
    ] as const) {
      expect(decodeCommand(encodeCommand(cmd))).toEqual(cmd);
    }
  });

  it('are compact: a put is 5 bytes plus the key and value', () => {
    expect(put('color', 'blue').length).toBe(5 + 5 + 4);
    expect(del('color').length).toBe(5 + 5);
  });

  it('refuse bytes that are not a command', () => {
    expect(() => decodeCommand(new Uint8Array([1, 0]))).toThrow(ErrMalformedKvData);
    expect(() => decodeCommand(new Uint8Array([9, 0, 0, 0, 0]))).toThrow(ErrMalformedKvData);
    expect(() => decodeCommand(new Uint8Array([1, 0, 0, 0, 9, 97]))).toThrow(ErrMalformedKvData);
  });
});

describe('KvStateMachine', () => {
  it('applies puts and deletes, reporting the index and whether the key existed', () => {
    const sm = new KvStateMachine();
    expect(sm.apply(put('a', '1'), 3)).toEqual({ index: 3, existed: false });
    expect(sm.apply(put('a', '2'), 4)).toEqual({ index: 4, existed: true });
    expect(sm.apply(put('b', '3'), 5)).toEqual({ index: 5, existed: false });
    expect(sm.apply(del('a'), 6)).toEqual({ index: 6, existed: true });
    expect(sm.apply(del('a'), 7)).toEqual({ index: 7, existed: false });
    expect(sm.get('a')).toBeUndefined();
    expect(sm.toJSON()).toEqual({ b: '3' });
  });

  it('restores exactly what it snapshotted, replacing its own state', () => {
    const sm = new KvStateMachine();
    sm.apply(put('zeta', 'last'), 1);
    sm.apply(put('alpha', ''), 2);
    sm.apply(put('ключ', 'значение 🚀'), 3);
    const snap = sm.snapshot();

    const other = new KvStateMachine();
    other.apply(put('stale', 'x'), 1);
    other.restore(snap);
    expect(other.toJSON()).toEqual(sm.toJSON());
    expect(other.size).toBe(3);
    expect(other.snapshot()).toEqual(snap);
  });

  it('gives equal snapshots for equal maps, whatever the order of writes', () => {
    const a = new KvStateMachine();
    const b = new KvStateMachine();
    a.apply(put('x', '1'), 1);
    a.apply(put('y', '2'), 2);
    b.apply(put('y', '2'), 1);
    b.apply(put('x', '1'), 2);
    expect(a.snapshot()).toEqual(b.snapshot());
  });

  it('round-trips an empty map', () => {
    const sm = new KvStateMachine();
    sm.apply(put('a', '1'), 1);
    sm.restore(new KvStateMachine().snapshot());
    expect(sm.size).toBe(0);
  });

  it('refuses a damaged snapshot and keeps its state', () => {
    const sm = new KvStateMachine();
    sm.apply(put('a', '1'), 1);
    const snap = sm.snapshot();
    expect(() => sm.restore(snap.subarray(0, snap.length - 1))).toThrow(ErrMalformedKvData);
    expect(() => sm.restore(Uint8Array.of(...snap, 0))).toThrow(ErrMalformedKvData);
    expect(() => sm.restore(Uint8Array.of(2, ...snap.subarray(1)))).toThrow(ErrMalformedKvData);
    expect(sm.toJSON()).toEqual({ a: '1' });
  });
});
