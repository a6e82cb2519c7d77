// FileStorage refuses options it cannot honour when it is built, with
// ErrInvalidConfig (stable name) naming the option, before touching the disk.
import { ErrInvalidConfig } from '@raftbus/core';
import { describe, expect, it } from 'vitest';
import { FileStorage, type FileStorageOptions } from '../src/index.js';

describe('FileStorage invalid options', () => {
  const bad: [string, unknown, RegExp][] = [
    ['no options', undefined, /options/],
    ['no dir', {}, /dir/],
    ['empty dir', { dir: '' }, /dir/],
    ['dir not a string', { dir: 42 }, /dir/],
    ['segmentBytes 0', { dir: '/nonexistent/x', segmentBytes: 0 }, /segmentBytes/],
    ['segmentBytes negative', { dir: '/nonexistent/x', segmentBytes: -1 }, /segmentBytes/],
    ['segmentBytes fractional', { dir: '/nonexistent/x', segmentBytes: 10.5 }, /segmentBytes/],
    ['segmentBytes NaN', { dir: '/nonexistent/x', segmentBytes: Number.NaN }, /segmentBytes/],
    ['segmentBytes Infinity', { dir: '/nonexistent/x', segmentBytes: Number.POSITIVE_INFINITY }, /segmentBytes/],
    ['segmentBytes a string', { dir: '/nonexistent/x', segmentBytes: '1024' }, /segmentBytes/],
    ['unknown sync mode', { dir: '/nonexistent/x', sync: 'never' }, /sync/],
    ['unsafeNoSync not a boolean', { dir: '/nonexistent/x', unsafeNoSync: 'yes' }, /unsafeNoSync/],
    ['fs not an object', { dir: '/nonexistent/x', fs: 'posix' }, /fs/],
  ];

  it.each(bad)('%s: ErrInvalidConfig at construction', (_what, options, message) => {
    let caught: unknown;
    try {
      new FileStorage(options as FileStorageOptions);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(ErrInvalidConfig);
    expect((caught as Error).name).toBe('ErrInvalidConfig');
    expect((caught as Error).message).toMatch(message);
  });

  it('accepts the smallest valid segment and both sync modes (nothing is opened until open())', () => {
    expect(() => new FileStorage({ dir: '/nonexistent/x', segmentBytes: 1, sync: 'always' })).not.toThrow();
    expect(() => new FileStorage({ dir: '/nonexistent/x', sync: 'batch', unsafeNoSync: true })).not.toThrow();
  });
});
