// The host's default append size follows what the bus carries unsplit.
import { describe, expect, it } from 'vitest';
import { defaultMaxSizePerMsg } from '../src/options.js';

describe('defaultMaxSizePerMsg', () => {
  it("is etcd's 1 MiB unless the bus splits messages smaller than that", () => {
    expect(defaultMaxSizePerMsg(undefined)).toBe(1024 * 1024);
    expect(defaultMaxSizePerMsg(64 * 1024 * 1024)).toBe(1024 * 1024);
    // NATS's default 1 MiB payload, Redis's 512 KiB frames: 3/4 of what fits unsplit.
    expect(defaultMaxSizePerMsg(1024 * 1024 - 400)).toBe(Math.floor(((1024 * 1024 - 400) * 3) / 4));
    expect(defaultMaxSizePerMsg(512 * 1024)).toBe(384 * 1024);
    expect(defaultMaxSizePerMsg(1)).toBe(1);
  });
});
