// scratch (removed afterwards)
import { openBus } from './dist/baselines/buses.js';
import { BenchCluster } from './dist/cluster/bench-cluster.js';
import { closedLoop } from './dist/cluster/closed-loop.js';
const names = (process.argv[2] ?? 'redis').split(',');
const ms = Number(process.argv[3] ?? 3000);
for (const name of names) {
  const bus = await openBus(name);
  if ('skipped' in bus) { console.log(name, bus.skipped); continue; }
  // raw round trip
  const cluster = await BenchCluster.start({ bus, storage: 'memory' });
  const r = await closedLoop(() => cluster.leader(), { concurrency: 1, payloadBytes: 128, warmupMs: 500, durationMs: ms });
  const l = r.latenciesMs.sort((a, b) => a - b);
  const q = (p) => l[Math.floor(p * (l.length - 1))].toFixed(3);
  console.log(`${name} c1: n=${l.length} p50=${q(0.5)} p90=${q(0.9)} p99=${q(0.99)} commits/s=${r.commitsPerSecond.toFixed(0)}`);
  await cluster.stop();
  await bus.stop();
}
process.exit(0);
