// scratch (removed afterwards)
import { openBus } from './dist/baselines/buses.js';
import { BenchCluster } from './dist/cluster/bench-cluster.js';
import { performance } from 'node:perf_hooks';
const name = process.argv[2] ?? 'redis';
const N = Number(process.argv[3] ?? 2000);
const bus = await openBus(name);
const origCluster = bus.cluster.bind(bus);
let trace = null; // current proposal trace
const mark = (k) => { if (trace && trace[k] === undefined) trace[k] = performance.now(); };
bus.cluster = (cid) => {
  const c = origCluster(cid);
  return { ...c, transport(id) {
    const t = c.transport(id);
    const send = t.send.bind(t);
    t.send = (msgs) => {
      for (const m of msgs) if (m.type === 3 && m.entries.length > 0) mark(`send App ${m.from}->${m.to}`);
      else if (m.type === 4) mark(`send AppResp ${m.from}->${m.to}`);
      send(msgs);
    };
    const start = t.start.bind(t);
    t.start = (cid2, nid, h) => start(cid2, nid, { ...h, onMessage: (m) => {
      if (m.type === 3 && m.entries.length > 0) mark(`recv App ${m.from}->${m.to}`);
      else if (m.type === 4) mark(`recv AppResp ${m.from}->${m.to}`);
      h.onMessage(m);
    } });
    return t;
  } };
};
const cluster = await BenchCluster.start({ bus, storage: 'memory' });
const leader = cluster.leader();
const payload = new Uint8Array(128).fill(0x61);
const all = [];
for (let i = 0; i < N; i++) {
  trace = { t0: performance.now() };
  await leader.propose(payload);
  trace.done = performance.now();
  if (i > 200) all.push(trace);
}
trace = null;
// median of each mark relative to t0
const keys = new Set(); for (const t of all) for (const k of Object.keys(t)) keys.add(k);
const rows = [...keys].map((k) => { const v = all.filter((t) => t[k] !== undefined).map((t) => t[k] - t.t0).sort((a, b) => a - b); return [k, v[Math.floor(v.length / 2)], v.length]; }).sort((a, b) => a[1] - b[1]);
for (const [k, v, n] of rows) console.log(k.padEnd(24), v.toFixed(3), n);
await cluster.stop(); await bus.stop();
process.exit(0);
