// Three raft nodes in one process, wired by an in-memory message queue.
// This is the loop every raft application writes (etcd's and raft-rs's
// examples do the same): tick, step incoming messages, and for each Ready
// persist, send, apply, advance. The host package will wrap it; here it is
// spelled out so you can see what raft asks of its driver.
import {
  EntryType,
  MemoryStorage,
  RawNode,
  StateType,
  decodeConfChange,
  type Message,
} from '@raftbus/core';

const ids = [1, 2, 3];
const text = new TextDecoder();
const enc = new TextEncoder();

// A seeded generator makes the run reproducible: same elections every time.
function seededRandom(seed: number): (n: number) => number {
  let s = seed >>> 0;
  return (n) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % n;
  };
}

interface Node {
  id: number;
  storage: MemoryStorage;
  raw: RawNode;
  applied: string[];
  up: boolean;
}

const nodes = new Map<number, Node>();
const inflight: Message[] = [];

for (const id of ids) {
  const storage = new MemoryStorage();
  const raw = new RawNode({
    id,
    electionTick: 10,
    heartbeatTick: 1,
    storage,
    maxSizePerMsg: 1024 * 1024,
    maxInflightMsgs: 256,
    checkQuorum: true,
    preVote: true,
    randomInt: seededRandom(id * 7919),
    logger: { debug() {}, info() {}, warning() {}, error() {}, fatal: fail, panic: fail },
  });
  raw.bootstrap(ids.map((p) => ({ id: p })));
  nodes.set(id, { id, storage, raw, applied: [], up: true });
}

function fail(msg: string): never {
  throw new Error(msg);
}

/** One pass of the Ready loop on a node. */
function handleReady(n: Node): void {
  while (n.raw.hasReady()) {
    const rd = n.raw.ready();
    // 1. Persist: snapshot, entries, hard state (MemoryStorage is our disk).
    if (rd.snapshot) n.storage.applySnapshot(rd.snapshot);
    n.storage.append(rd.entries);
    if (rd.hardState) n.storage.setHardState(rd.hardState);
    // 2. Send: only now that the state they depend on is persisted.
    inflight.push(...rd.messages);
    // 3. Apply committed entries to the state machine.
    for (const e of rd.committedEntries) {
      if (e.type === EntryType.EntryConfChange) {
        n.raw.applyConfChange(decodeConfChange(e.data));
      } else if (e.data.length > 0) {
        n.applied.push(text.decode(e.data));
        console.log(`  node ${n.id} applied index ${e.index}: ${text.decode(e.data)}`);
      }
    }
    // 4. Tell raft we are done.
    n.raw.advance(rd);
  }
}

function deliver(): void {
  while (inflight.length > 0) {
    const m = inflight.shift()!;
    const to = nodes.get(m.to);
    if (!to?.up) continue; // a node cut off loses its messages, as on a real network
    to.raw.step(m);
    handleReady(to);
  }
}

function leader(): Node | undefined {
  return [...nodes.values()].find((n) => n.up && n.raw.basicStatus().softState.raftState === StateType.StateLeader);
}

function runUntil(cond: () => boolean, maxTicks: number): number {
  for (let t = 1; t <= maxTicks; t++) {
    for (const n of nodes.values()) {
      if (!n.up) continue;
      n.raw.tick();
      handleReady(n);
    }
    deliver();
    if (cond()) return t;
  }
  throw new Error(`condition not reached in ${maxTicks} ticks`);
}

function propose(data: string): void {
  const l = leader();
  if (!l) throw new Error('no leader');
  console.log(`propose "${data}" on leader ${l.id}`);
  l.raw.propose(enc.encode(data));
  handleReady(l);
  deliver();
}

console.log(`raftbus demo: ${ids.length} raft nodes in one process (in-memory messages, MemoryStorage)\n`);
for (const n of nodes.values()) handleReady(n);

let ticks = runUntil(() => leader() !== undefined, 200);
let l = leader()!;
console.log(`after ${ticks} ticks: node ${l.id} is leader at term ${l.raw.basicStatus().hardState.term}\n`);

for (const kv of ['x=1', 'y=2', 'z=3']) propose(kv);

const old = l;
console.log(`\ncutting leader ${old.id} off the network`);
old.up = false;
ticks = runUntil(() => leader() !== undefined && leader() !== old, 500);
l = leader()!;
console.log(`after ${ticks} ticks: node ${l.id} is leader at term ${l.raw.basicStatus().hardState.term}\n`);
propose('w=4');

console.log(`\nreconnecting node ${old.id}`);
old.up = true;
runUntil(() => old.applied.length === 4, 500);

console.log('\ncommitted entries per node:');
let agree = true;
for (const n of nodes.values()) {
  console.log(`  node ${n.id}: ${n.applied.join(', ')}`);
  if (n.applied.join() !== l.applied.join()) agree = false;
}
if (!agree || l.applied.length !== 4) {
  console.error('nodes disagree: this is a bug');
  process.exit(1);
}
console.log('\nall nodes applied the same 4 entries in the same order');
