// The two commands every raft message costs, XADD (send) and XREAD (read),
// built from bytes encoded once per inbox. ioredis would turn each call's
// arguments into a new Command, convert and UTF-8 encode every argument and
// assemble the RESP text piece by piece; here the constant part is one
// Buffer and a command's bytes are that prefix plus what varies (the frame,
// the last id read). The bytes written are exactly those ioredis writes for
// xadd(key, 'MAXLEN', '~', maxlen, '*', 'f', frame) and
// xreadBuffer('COUNT', count, 'BLOCK', blockMs, 'STREAMS', key, lastId).
import { Command } from 'ioredis';
import { FRAME_FIELD } from './inbox-key.js';

const CRLF_LENGTH = 2;
/** The frame field as a RESP bulk string. */
const FIELD = bulk(FRAME_FIELD);

/** RESP's encoding of a command whose arguments end with those given: the array header, the name and each argument as a bulk string. */
function encodePrefix(argumentCount: number, name: string, leading: readonly (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${argumentCount + 1}\r\n`), bulk(name)];
  for (const argument of leading) parts.push(bulk(argument));
  return Buffer.concat(parts);
}

function bulk(value: string | Buffer): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value) : value;
  return Buffer.concat([Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n')]);
}

/** `prefix`, then `last` as the command's final bulk string: one Buffer, ready for the socket. */
function withLastArgument(prefix: Buffer, last: Uint8Array | string): Buffer {
  // A string here is a stream id, ASCII: as many bytes as characters.
  const header = `$${last.length}\r\n`;
  const out = Buffer.allocUnsafe(prefix.length + header.length + last.length + CRLF_LENGTH);
  let at = prefix.copy(out, 0);
  at += out.write(header, at, 'latin1');
  if (typeof last === 'string') at += out.write(last, at, 'latin1');
  else {
    out.set(last, at);
    at += last.length;
  }
  out[at] = 0x0d;
  out[at + 1] = 0x0a;
  return out;
}

/** What XADD needs to add frames to one inbox, encoded. */
export class XaddEncoder {
  private readonly prefix: Buffer;
  /** The command's name and arguments up to `*`, without the array header: the start of an XADD of any number of frames. */
  private readonly head: Buffer;

  /** `key` as written (any keyPrefix of the client included); `maxlen` the trimming threshold. */
  constructor(readonly key: string | Buffer, maxlen: string) {
    this.prefix = encodePrefix(7, 'xadd', [key, 'MAXLEN', '~', maxlen, '*', FRAME_FIELD]);
    const header = Buffer.from('*8\r\n');
    this.head = this.prefix.subarray(header.length, this.prefix.length - FIELD.length);
  }

  /** A command adding `frame` to the inbox; hand it to the client's sendCommand(). Resolves with the entry id. */
  command(frame: Uint8Array): Command {
    return new PreEncoded('xadd', withLastArgument(this.prefix, frame));
  }

  /**
   * A command adding one entry that carries `frames`, in order, each as an
   * `f` field (a stream entry may repeat a field): Redis adds them
   * atomically, and a reader blocked on the inbox wakes once, for all of them.
   */
  commandMany(frames: readonly Uint8Array[]): Command {
    const header = `*${6 + 2 * frames.length}\r\n`;
    let length = header.length + this.head.length;
    for (const frame of frames) length += FIELD.length + String(frame.length).length + frame.length + 3 + CRLF_LENGTH;
    const out = Buffer.allocUnsafe(length);
    let at = out.write(header, 0, 'latin1');
    at += this.head.copy(out, at);
    for (const frame of frames) {
      at += FIELD.copy(out, at);
      at += out.write(`$${frame.length}\r\n`, at, 'latin1');
      out.set(frame, at);
      at += frame.length;
      out[at++] = 0x0d;
      out[at++] = 0x0a;
    }
    return new PreEncoded('xadd', out);
  }
}

/** What XREAD BLOCK needs to read one inbox, encoded. */
export class XreadEncoder {
  private readonly prefix: Buffer;

  constructor(readonly key: string | Buffer, count: number, blockMs: number) {
    this.prefix = encodePrefix(7, 'xread', ['COUNT', String(count), 'BLOCK', String(blockMs), 'STREAMS', key]);
  }

  /**
   * A command reading the entries after `lastId` (an ASCII stream id);
   * resolves with ioredis's legacy XREAD reply (Buffers), or null when BLOCK
   * expired. Named `xread`, so ioredis treats it as blocking.
   */
  command(lastId: string): Command {
    return new PreEncoded('xread', withLastArgument(this.prefix, lastId));
  }
}

/**
 * A Command whose bytes are already encoded. ioredis still queues it, matches
 * its reply and settles its promise; the arguments are left empty, so
 * ioredis has none to convert (error replies name the command only).
 */
class PreEncoded extends Command {
  constructor(
    name: string,
    private readonly bytes: Buffer,
  ) {
    super(name);
  }

  override toWritable(): Buffer {
    return this.bytes;
  }
}
