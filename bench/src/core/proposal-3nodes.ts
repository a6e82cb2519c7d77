// etcd-raft's BenchmarkProposal3Nodes (rafttest/node_bench_test.go): three
// nodes on an in-memory network, each ticking every 5ms, persisting every
// Ready to its MemoryStorage with a 1ms simulated fsync and sending each
// message after a random 0–9ms delay; node 1 proposes n entries. Go's version
// stops its clock once the last proposal is accepted (its wait for commit is
// a no-op); ours stops only when all three nodes have committed all n, so
// the comparison is conservative.
import { setImmediate as yieldToEventLoop, setTimeout as sleep } from 'node:timers/promises';
import { discardLogger, ErrProposalDropped, MemoryStorage, type Message, RawNode } from '@raftbus/core';
import { nowNs } from '../harness.js';
import { diskSync, encoder, seededRandom } from './setup.js';

const payload = encoder.encode('somedata');
const TICK_MS = 5;
const MAX_DELAY_MS = 10;
/** Give up when no node's commit index moves for this long (a lost proposal would hang the run). */
const STALL_MS = 10_000;

class BenchNode {
  readonly storage = new MemoryStorage();
  readonly rn: RawNode;
  commit = 0;
  private busy = false;
  private stopped = false;
  private readonly ticker: NodeJS.Timeout;

  constructor(
    readonly id: number,
    peers: number[],
    private readonly net: Network,
    random: () => number,
  ) {
    this.rn = new RawNode({
      id,
      electionTick: 10,
      heartbeatTick: 1,
      storage: this.storage,
      maxSizePerMsg: 1024 * 1024,
      maxInflightMsgs: 256,
      maxUncommittedEntriesSize: 1 << 30,
      logger: discardLogger,
      randomInt: (k) => Math.floor(random() * k),
    });
    this.rn.bootstrap(peers.map((p) => ({ id: p })));
    this.ticker = setInterval(() => {
      this.rn.tick();
      this.kick();
    }, TICK_MS);
    this.kick();
  }

  step(m: Message): void {
    if (this.stopped) return;
    this.rn.step(m);
    this.kick();
  }

  propose(data: Uint8Array): void {
    this.rn.propose(data);
    this.kick();
  }

  /** Runs the Ready loop unless it is already running; like the Go node's goroutine. */
  kick(): void {
    if (this.busy || this.stopped) return;
    this.busy = true;
    void this.drain();
  }

  private async drain(): Promise<void> {
    while (!this.stopped && this.rn.hasReady()) {
      const rd = this.rn.ready();
      if (rd.hardState !== undefined) {
        this.storage.setHardState(rd.hardState);
        this.commit = rd.hardState.commit;
      }
      this.storage.append(rd.entries);
      await diskSync();
      for (const m of rd.messages) this.net.send(m);
      this.rn.advance(rd);
      this.net.onProgress();
    }
    this.busy = false;
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.ticker);
  }
}

class Network {
  readonly nodes = new Map<number, BenchNode>();
  onProgress: () => void = () => {};

  constructor(private readonly random: () => number) {}

  send(m: Message): void {
    const delay = Math.floor(this.random() * MAX_DELAY_MS);
    setTimeout(() => this.nodes.get(m.to)?.step(m), delay);
  }
}

export async function proposal3Nodes(n: number, seed = 1): Promise<number> {
  const random = seededRandom(seed);
  const net = new Network(random);
  const peers = [1, 2, 3];
  for (const id of peers) net.nodes.set(id, new BenchNode(id, peers, net, random));
  const nodes = [...net.nodes.values()];
  const proposer = nodes[0]!;
  try {
    // Warm up (untimed): wait until node 1 knows a leader and has committed
    // the leader's empty entry, as Go sleeps 50ms before resetting its timer.
    while (proposer.rn.basicStatus().softState.lead === 0 || proposer.commit < peers.length + 1) await sleep(TICK_MS);
    const target = Math.max(...nodes.map((x) => x.commit)) + n;

    const start = nowNs();
    let lastProgress = Date.now();
    let watchdog: NodeJS.Timeout | undefined;
    const allCommitted = new Promise<void>((resolve, reject) => {
      let lastSum = 0;
      net.onProgress = () => {
        const sum = nodes.reduce((acc, x) => acc + x.commit, 0);
        if (sum !== lastSum) {
          lastSum = sum;
          lastProgress = Date.now();
        }
        if (nodes.every((x) => x.commit >= target)) resolve();
      };
      watchdog = setInterval(() => {
        if (Date.now() - lastProgress > STALL_MS) {
          reject(new Error(`proposal-3nodes stalled: commits ${nodes.map((x) => x.commit).join(',')} < ${target}`));
        }
      }, 1000);
    }).finally(() => clearInterval(watchdog));
    for (let i = 0; i < n; ) {
      try {
        proposer.propose(payload);
        i++;
      } catch (e) {
        // Only while leadership moves; Go's Propose would block meanwhile.
        if (!(e instanceof ErrProposalDropped)) throw e;
        await sleep(1);
      }
      await yieldToEventLoop();
    }
    await allCommitted;
    return nowNs() - start;
  } finally {
    for (const x of nodes) x.stop();
  }
}
