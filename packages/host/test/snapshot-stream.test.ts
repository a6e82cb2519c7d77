// Snapshots as streams through the host: a state machine with
// snapshotChunks/restoreChunks has its snapshot piped into storage and back,
// chunk by chunk, never joined; a leader whose snapshot is on disk only
// (raft's snapshot() throws ErrSnapshotTemporarilyUnavailable until it is
// loaded) still catches a follower up.
//
// FileStorage and KvStateMachine are imported from their sources by path:
// they are not dependencies of @raftbus/host (that needs a lockfile change).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrSnapshotTemporarilyUnavailable, SNAPSHOT_CHUNK_BYTES, chunksOf, discardLogger, type DurableStorage, type StateMachine } from '@raftbus/core';
import { MemoryBus, MemoryTransport, seededRandom } from '@raftbus/transport-memory';
import { afterEach, describe, expect, it } from 'vitest';
import { FileStorage } from '../../storage-file/src/index.js';
import { KvStateMachine } from '../../testkit/src/kv-state-machine.js';
import { RaftNode, type RaftNodeOptions } from '../src/index.js';
import { waitFor } from './helpers/cluster.js';

const dirs: string[] = [];
const nodes: RaftNode<unknown>[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()));
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'raftbus-host-snapshot-stream-'));
  dirs.push(d);
  return d;
}

/** A FileStorage keeping no snapshot in memory: every snapshot read comes from its file. */
function fileStorage(dir: string): FileStorage {
  return new FileStorage({ dir, logger: discardLogger, unsafeNoSync: true, residentSnapshotBytes: 0 });
}

async function startNode<R>(
  bus: MemoryBus,
  clusterId: string,
  id: number,
  storage: DurableStorage,
  stateMachine: StateMachine<R>,
  extra: Partial<RaftNodeOptions<R>> = {},
): Promise<RaftNode<R>> {
  const node = new RaftNode<R>({
    id,
    clusterId,
    transport: new MemoryTransport(bus),
    storage,
    stateMachine,
    tickMs: 10,
    proposalTimeoutMs: 5_000,
    logger: discardLogger,
    randomInt: ((rand) => (n: number) => Math.floor(rand() * n))(seededRandom(id * 7919)),
    ...extra,
  });
  nodes.push(node as RaftNode<unknown>);
  await node.start();
  return node;
}

async function leaderOf(node: RaftNode<unknown>): Promise<void> {
  await waitFor(() => node.status().role === 'leader', 5_000, `node ${node.id} to lead`);
}

describe('RaftNode with a streaming state machine', () => {
  it('snapshots through snapshotChunks into FileStorage; a restarted node restores through restoreChunks', async () => {
    const dir = await tempDir();
    const bus = new MemoryBus({ seed: 7 });
    const kv = new KvStateMachine();
    const node = await startNode(bus, 'stream-1', 1, fileStorage(dir), kv, { peers: [1], snapshot: { entries: 40, catchUpEntries: 5 } });
    await leaderOf(node);
    for (let i = 0; i < 250; i++) await node.propose(KvStateMachine.put(`key-${i % 180}`, `value ${i}`));
    await waitFor(() => node.status().stats.snapshotsCreated >= 2, 5_000, 'two snapshots');
    expect(kv.streamedSnapshots).toBe(node.status().stats.snapshotsCreated);
    const snapshotIndex = node.status().snapshotIndex;
    const want = kv.toJSON();
    await node.stop();

    const again = new KvStateMachine();
    const restarted = await startNode(bus, 'stream-1', 1, fileStorage(dir), again);
    expect(again.streamedRestores).toBe(1);
    expect(restarted.status().snapshotIndex).toBe(snapshotIndex);
    await waitFor(() => again.lastApplied >= 250, 5_000, 'the log after the snapshot to be replayed');
    expect(again.toJSON()).toEqual(want);
    expect(again.violations).toEqual([]);
    await restarted.stop();

    // A state machine without the streaming methods restarts from the same
    // snapshot (on disk only) through restore(), the chunks joined for it.
    const plain = new KvStateMachine();
    await startNode(bus, 'stream-1', 1, fileStorage(dir), {
      apply: (data: Uint8Array, index: number) => plain.apply(data, index),
      snapshot: () => plain.snapshot(),
      restore: (data: Uint8Array) => plain.restore(data),
    });
    expect(plain.restores).toBe(1);
    expect(plain.streamedRestores).toBe(0);
    await waitFor(() => plain.lastApplied >= 250, 5_000, 'the log after the snapshot to be replayed');
    expect(plain.toJSON()).toEqual(want);
  });

  it('a large snapshot reaches the storage one chunk at a time, and comes back in bounded chunks', async () => {
    const dir = await tempDir();
    const bus = new MemoryBus({ seed: 8 });
    const blob = new BlobMachine();
    const arrivals: { size: number; produced: number }[] = [];
    let givenWhole = 0;
    // The storage, seen through a spy on createSnapshot: it notes, as each
    // chunk arrives, how many the state machine has made so far.
    const storage = fileStorage(dir);
    const spied = new Proxy(storage, {
      get(target, prop) {
        if (prop === 'createSnapshot') {
          return (index: number, confState: never, data: Uint8Array | AsyncIterable<Uint8Array>) => {
            if (data instanceof Uint8Array) {
              givenWhole++;
              return target.createSnapshot(index, confState, data);
            }
            return target.createSnapshot(index, confState, observe(data, (c) => arrivals.push({ size: c.length, produced: blob.produced })));
          };
        }
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const node = await startNode(bus, 'stream-2', 1, spied, blob, { peers: [1], snapshot: { entries: 10, catchUpEntries: 2 } });
    await leaderOf(node);
    for (let i = 0; i < 10; i++) await node.propose(new Uint8Array([i]));
    await waitFor(() => node.status().stats.snapshotsCreated === 1, 5_000, 'a snapshot');
    expect(givenWhole).toBe(0);
    expect(arrivals.length).toBe(BlobMachine.CHUNKS);
    // Chunk k arrived before the state machine made chunk k+1: nothing was gathered on the way.
    expect(arrivals.map((a) => a.produced)).toEqual(Array.from({ length: BlobMachine.CHUNKS }, (_, k) => k + 1));
    expect(arrivals.every((a) => a.size === BlobMachine.CHUNK_BYTES)).toBe(true);
    await node.stop();

    const back = new BlobMachine();
    await startNode(bus, 'stream-2', 1, fileStorage(dir), back);
    expect(back.restoredChunkSizes.length).toBeGreaterThan(1);
    expect(Math.max(...back.restoredChunkSizes)).toBeLessThanOrEqual(SNAPSHOT_CHUNK_BYTES);
    expect(back.restoredChunkSizes.reduce((n, x) => n + x, 0)).toBe(BlobMachine.CHUNKS * BlobMachine.CHUNK_BYTES);
    expect(back.restoredFrom).toBe(blob.snapshotAt);
  });

  it('a leader whose snapshot is on disk only catches a lagging follower up with it', async () => {
    const bus = new MemoryBus({ seed: 9 });
    const ids = [1, 2, 3];
    const kvs = new Map<number, KvStateMachine>();
    const running = new Map<number, RaftNode<string | undefined>>();
    let unavailable = 0;
    for (const id of ids) {
      const kv = new KvStateMachine();
      kvs.set(id, kv);
      const storage = countUnavailable(fileStorage(await tempDir()), () => unavailable++);
      running.set(id, await startNode(bus, 'stream-3', id, storage, kv, { peers: ids, snapshot: { entries: 20, catchUpEntries: 2 } }));
    }
    await waitFor(() => [...running.values()].some((n) => n.status().role === 'leader'), 5_000, 'a leader');
    const leader = [...running.values()].find((n) => n.status().role === 'leader')!;
    const laggard = ids.find((id) => id !== leader.id)!;
    bus.isolate(laggard);
    for (let i = 0; i < 120; i++) await leader.propose(KvStateMachine.put(`k${i % 50}`, `v${i}`));
    await waitFor(() => leader.status().snapshotIndex > 100, 5_000, 'the leader to snapshot past 100');
    bus.restore(laggard);
    const lagging = kvs.get(laggard)!;
    const want = kvs.get(leader.id)!.toJSON();
    await waitFor(() => JSON.stringify(lagging.toJSON()) === JSON.stringify(want), 10_000, `node ${laggard} to catch up`);
    expect(running.get(laggard)!.status().stats.snapshotsInstalled).toBeGreaterThanOrEqual(1);
    expect(lagging.streamedRestores).toBeGreaterThanOrEqual(1);
    // The leader's first ask found the snapshot on disk only, and raft asked again once it was loaded.
    expect(unavailable).toBeGreaterThanOrEqual(1);
    expect([...running.values()].reduce((n, r) => n + r.status().stats.snapshotsSent, 0)).toBeGreaterThanOrEqual(1);
    for (const kv of kvs.values()) expect(kv.violations).toEqual([]);
  });
});

describe("the test kit's KvStateMachine streams its snapshot", () => {
  it('snapshotChunks() joined is snapshot(); either restores through restore() or restoreChunks(), however cut', async () => {
    const kv = new KvStateMachine();
    for (let i = 0; i < 250; i++) kv.apply(KvStateMachine.put(`ключ-${i}`, `значение ${i} ✓`), i + 1);
    const streamed: Uint8Array[] = [];
    for await (const c of kv.snapshotChunks()) streamed.push(new Uint8Array(c));
    expect(streamed.length).toBe(1 + 3); // a header line, then 100 keys a line
    const whole = kv.snapshot();
    expect(Buffer.concat(streamed).equals(Buffer.from(whole))).toBe(true);

    const viaBytes = new KvStateMachine();
    viaBytes.restore(whole);
    expect(viaBytes.toJSON()).toEqual(kv.toJSON());
    // Cut into 1-byte chunks: lines and multi-byte characters span chunks.
    const viaChunks = new KvStateMachine();
    await viaChunks.restoreChunks(chunksOf(whole, 1));
    expect(viaChunks.toJSON()).toEqual(kv.toJSON());
    expect(viaChunks.lastApplied).toBe(250);
    expect(viaChunks.streamedRestores).toBe(1);
  });

  it('a stream that throws at its end leaves the state as it was', async () => {
    const kv = new KvStateMachine();
    kv.apply(KvStateMachine.put('a', '1'), 1);
    const other = new KvStateMachine();
    other.apply(KvStateMachine.put('b', '2'), 7);
    async function* damaged(): AsyncGenerator<Uint8Array> {
      yield* chunksOf(other.snapshot(), 3);
      throw new Error('checksum mismatch');
    }
    await expect(kv.restoreChunks(damaged())).rejects.toThrow('checksum mismatch');
    expect(kv.toJSON()).toEqual({ a: '1' });
    expect(kv.lastApplied).toBe(1);
  });
});

/** `storage`, calling `onUnavailable` whenever its snapshot() throws ErrSnapshotTemporarilyUnavailable. */
function countUnavailable(storage: FileStorage, onUnavailable: () => void): FileStorage {
  const snapshot = storage.snapshot.bind(storage);
  storage.snapshot = () => {
    try {
      return snapshot();
    } catch (e) {
      if (e instanceof ErrSnapshotTemporarilyUnavailable) onUnavailable();
      throw e;
    }
  };
  return storage;
}

/** Passes `chunks` through, calling `seen` on each as it goes by. */
async function* observe(chunks: AsyncIterable<Uint8Array>, seen: (chunk: Uint8Array) => void): AsyncGenerator<Uint8Array> {
  for await (const chunk of chunks) {
    seen(chunk);
    yield chunk;
  }
}

/**
 * A state machine whose snapshot is large: CHUNKS chunks of CHUNK_BYTES,
 * each filled from the applied index and its position, made only when asked
 * for (`produced` counts them), in one reused buffer.
 */
class BlobMachine implements StateMachine<number> {
  static readonly CHUNKS = 48;
  static readonly CHUNK_BYTES = 64 * 1024;
  applied = 0;
  produced = 0;
  restoredChunkSizes: number[] = [];
  restoredFrom = -1;
  /** The applied index the last snapshot was made at. */
  snapshotAt = -1;

  apply(_data: Uint8Array, index: number): number {
    this.applied = index;
    return index;
  }

  snapshot(): Uint8Array {
    throw new Error('the host must use snapshotChunks()');
  }

  async *snapshotChunks(): AsyncGenerator<Uint8Array> {
    const buf = new Uint8Array(BlobMachine.CHUNK_BYTES);
    this.snapshotAt = this.applied;
    for (let k = 0; k < BlobMachine.CHUNKS; k++) {
      buf.fill(BlobMachine.byteFor(this.applied, k));
      new DataView(buf.buffer).setUint32(0, this.applied);
      this.produced++;
      yield buf;
    }
  }

  restore(): void {
    throw new Error('the host must use restoreChunks()');
  }

  /** Checks every byte against what snapshotChunks() made: each chunk opens with the applied index (4 bytes). */
  async restoreChunks(chunks: AsyncIterable<Uint8Array>): Promise<void> {
    let offset = 0;
    let from = -1;
    const sizes: number[] = [];
    for await (const chunk of chunks) {
      sizes.push(chunk.length);
      if (offset === 0) from = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength).getUint32(0);
      for (let i = 0; i < chunk.length; i++, offset++) {
        const at = offset % BlobMachine.CHUNK_BYTES;
        const want = at < 4 ? (from >>> (8 * (3 - at))) & 0xff : BlobMachine.byteFor(from, Math.floor(offset / BlobMachine.CHUNK_BYTES));
        if (chunk[i] !== want) throw new Error(`snapshot byte ${offset} is ${chunk[i]}, not ${want}`);
      }
    }
    this.restoredChunkSizes = sizes;
    this.restoredFrom = this.applied = from;
  }

  static byteFor(applied: number, k: number): number {
    return (applied * 31 + k * 7) % 251;
  }
}
