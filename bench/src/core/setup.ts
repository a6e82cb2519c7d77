// Shared setup for the core benchmarks: etcd-raft's test config and storage
// (newTestConfig, newTestMemoryStorage(withPeers(...))), so each benchmark
// starts from the same state as its Go counterpart.
import { setTimeout as sleep } from 'node:timers/promises';
import { type Config, discardLogger, MemoryStorage, newConfState, newSnapshot, noLimit, RawNode } from '@raftbus/core';

/** A MemoryStorage whose initial ConfState has these voters. */
export function storageWithVoters(voters: number[]): MemoryStorage {
  const s = new MemoryStorage();
  s.applySnapshot(newSnapshot({ metadata: { confState: newConfState({ voters }) } }));
  return s;
}

/** etcd's newTestConfig(id, 10, 1, storage): no size limits, 256 in-flight appends. */
export function testConfig(id: number, storage: MemoryStorage): Config {
  return {
    id,
    electionTick: 10,
    heartbeatTick: 1,
    storage,
    maxSizePerMsg: noLimit,
    maxInflightMsgs: 256,
    // Logging would distort the numbers (etcd's BenchmarkRawNode discards it too).
    logger: discardLogger,
  };
}

export function testRawNode(id: number, storage: MemoryStorage): RawNode {
  return new RawNode(testConfig(id, storage));
}

/** A simulated fsync: etcd's benchmarks sleep 1ms for "a reasonable disk sync latency". */
export function diskSync(): Promise<void> {
  return sleep(1);
}

export const encoder = new TextEncoder();

/** A fixed-seed uniform generator in [0, 1) (mulberry32), so every run sees the same sequence. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
