import { EntryType, MemoryStorage, RawNode, StateType, discardLogger, type Message } from '@raftbus/core';

// Three nodes in one process; messages travel through an in-memory queue.
const ids = [1, 2, 3];
const storages = new Map(ids.map((id) => [id, new MemoryStorage()]));
const nodes = new Map(
  ids.map((id) => {
    const node = new RawNode({
      id,
      electionTick: 10,
      heartbeatTick: 1,
      storage: storages.get(id)!,
      maxSizePerMsg: 1 << 20,
      maxInflightMsgs: 256,
      logger: discardLogger,
    });
    node.bootstrap(ids.map((p) => ({ id: p })));
    return [id, node];
  }),
);
const inflight: Message[] = [];
const applied: string[] = [];

// The Ready loop: persist, send, apply, advance.
function drain(id: number): void {
  const node = nodes.get(id)!;
  const storage = storages.get(id)!;
  while (node.hasReady()) {
    const rd = node.ready();
    storage.append(rd.entries);
    if (rd.hardState) storage.setHardState(rd.hardState);
    inflight.push(...rd.messages);
    for (const e of rd.committedEntries) {
      if (e.type === EntryType.EntryNormal && e.data.length > 0 && id === 1) applied.push(new TextDecoder().decode(e.data));
    }
    node.advance(rd);
  }
}
function deliver(): void {
  for (let m = inflight.shift(); m; m = inflight.shift()) {
    nodes.get(m.to)!.step(m);
    drain(m.to);
  }
}

ids.forEach(drain);
nodes.get(1)!.campaign();
drain(1);
deliver();
console.log(`leader: ${nodes.get(1)!.basicStatus().softState.raftState === StateType.StateLeader ? 1 : 'none'}`);

nodes.get(1)!.propose(new TextEncoder().encode('hello'));
drain(1);
deliver();
console.log(`applied on node 1: ${applied.join(', ')}`);
