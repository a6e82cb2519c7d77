// The pre-encoded XADD and XREAD must put on the wire exactly the bytes
// ioredis writes for the same command built from its arguments.
import { SeededRandom } from '@raftbus/testkit';
import { Command } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { inboxKey } from '../src/index.js';
import { XaddEncoder, XreadEncoder } from '../src/stream-commands.js';

/** What ioredis writes for `name args…`. */
function ioredisBytes(name: string, args: (string | number | Buffer)[]): Buffer {
  const written = new Command(name, args).toWritable({});
  return typeof written === 'string' ? Buffer.from(written) : written;
}

const rng = new SeededRandom(11);

describe('XaddEncoder', () => {
  it.each([
    ['an empty frame', 0],
    ['a small frame', 37],
    ['a frame past the Buffer pool size', 5_000],
    ['a frame of 512 KiB', 512 * 1024],
  ])('writes what ioredis writes for XADD key MAXLEN ~ n * f frame: %s', (_what, size) => {
    const key = inboxKey('payments', 3);
    // Random bytes, so CR LF and invalid UTF-8 occur in the frame.
    const frame = rng.bytes(size);
    const mine = new XaddEncoder(key, '10000').command(frame).toWritable({});
    expect(Buffer.compare(mine as Buffer, ioredisBytes('xadd', [key, 'MAXLEN', '~', '10000', '*', 'f', Buffer.from(frame)]))).toBe(0);
  });

  it('takes the frame from a Uint8Array view at an offset, and a key with a client keyPrefix', () => {
    const backing = rng.bytes(300);
    const frame = backing.subarray(100, 250);
    const key = `app:${inboxKey('c', 12)}`;
    const mine = new XaddEncoder(key, '7').command(frame).toWritable({});
    expect(Buffer.compare(mine as Buffer, ioredisBytes('xadd', [key, 'MAXLEN', '~', '7', '*', 'f', Buffer.from(frame)]))).toBe(0);
  });

  it.each([
    ['one frame', [40]],
    ['two frames', [12, 300]],
    ['empty frames among others', [0, 5, 0]],
    ['a frame past the Buffer pool size among small ones', [3, 9_000, 17]],
  ])('writes what ioredis writes for XADD key MAXLEN ~ n * f frame f frame…: %s', (_what, sizes) => {
    const key = `app:${inboxKey('payments', 3)}`;
    const frames = sizes.map((size) => rng.bytes(size + 50).subarray(50));
    const mine = new XaddEncoder(key, '10000').commandMany(frames).toWritable({});
    const fields = frames.flatMap((frame) => ['f', Buffer.from(frame)]);
    expect(Buffer.compare(mine as Buffer, ioredisBytes('xadd', [key, 'MAXLEN', '~', '10000', '*', ...fields]))).toBe(0);
  });

  it('encodes each command afresh: one encoder, many frames', () => {
    const xadd = new XaddEncoder(inboxKey('c', 1), '10000');
    const first = Buffer.from(xadd.command(Uint8Array.of(1, 2, 3)).toWritable({}) as Buffer);
    xadd.command(rng.bytes(3));
    expect(xadd.command(Uint8Array.of(1, 2, 3)).toWritable({})).toEqual(first);
  });
});

describe('XreadEncoder', () => {
  it.each(['0-0', '1764178000000-0', '1764178000000-123456'])('writes what ioredis writes for XREAD COUNT n BLOCK ms STREAMS key %s', (lastId) => {
    const key = inboxKey('payments', 2);
    const mine = new XreadEncoder(key, 100, 2000).command(lastId).toWritable({});
    expect(Buffer.compare(mine as Buffer, ioredisBytes('xread', ['COUNT', 100, 'BLOCK', 2000, 'STREAMS', key, lastId]))).toBe(0);
  });

  it('is named xread, which ioredis treats as a blocking command', () => {
    const command = new XreadEncoder(inboxKey('c', 1), 1, 1).command('0-0');
    expect(command.name).toBe('xread');
    expect(Command.checkFlag('BLOCKING_COMMANDS', command.name)).toBe(true);
  });
});
