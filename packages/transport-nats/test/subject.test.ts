import { ErrInvalidConfig } from '@raftbus/core';
import { describe, expect, it } from 'vitest';
import { clusterToken, natsSubject } from '../src/index.js';

describe('natsSubject', () => {
  it('is raftbus.<cluster>.<node>, leaving plain ids as they are', () => {
    expect(natsSubject('orders-eu_1', 3)).toBe('raftbus.orders-eu_1.3');
  });

  it('escapes what a subject token cannot hold or would read as a wildcard', () => {
    expect(clusterToken('a.b')).toBe('a%2Eb');
    expect(clusterToken('*')).toBe('%2A');
    expect(clusterToken('>')).toBe('%3E');
    expect(clusterToken('a b\tc\r\n')).toBe('a%20b%09c%0D%0A');
    expect(clusterToken('$SYS')).toBe('%24SYS');
    expect(clusterToken('ü')).toBe('%C3%BC');
    for (const id of ['a.b', '*', '>', ' ', '~!\'()', 'x%2Ey']) expect(clusterToken(id)).toMatch(/^[A-Za-z0-9_%-]+$/);
  });

  it('never gives two cluster ids the same subject', () => {
    const ids = ['a', 'a.b', 'a%2Eb', 'a%252Eb', 'a*', 'a%2A', '%', '%25', 'ü', '%C3%BC', 'A', 'a ', 'a+', 'a~', 'a%7E'];
    const tokens = ids.map(clusterToken);
    expect(new Set(tokens).size).toBe(ids.length);
    for (let i = 0; i < ids.length; i++) expect(decodeURIComponent(tokens[i]!)).toBe(ids[i]);
  });

  it('refuses an empty or ill-formed cluster id and a node id that is not a positive integer', () => {
    expect(() => clusterToken('')).toThrow(ErrInvalidConfig);
    expect(() => clusterToken('a\uD800')).toThrow(ErrInvalidConfig);
    for (const id of [0, -1, 1.5, Number.NaN, 2 ** 53]) expect(() => natsSubject('c', id)).toThrow(ErrInvalidConfig);
  });
});
