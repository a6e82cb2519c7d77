// Runs one core benchmark in a process of its own and prints its Timing as
// JSON on stdout. The suite runs every benchmark this way, because in a
// shared process one benchmark's leftovers (garbage, JIT feedback from
// other message shapes) slowed the next by up to 2x.
// usage: node worker.js <benchmark name> '<TimingOptions as JSON>'
import { measure, type TimingOptions } from '../harness.js';
import { coreBenchmarks } from './suite.js';

const [name, timingJson] = process.argv.slice(2);
const bench = coreBenchmarks().find((b) => b.name === name);
if (bench === undefined || timingJson === undefined) {
  process.stderr.write(`usage: worker.js <benchmark> <timing JSON>; unknown benchmark ${String(name)}\n`);
  process.exit(2);
}
const timing = await measure(bench.fn, JSON.parse(timingJson) as TimingOptions);
process.stdout.write(JSON.stringify(timing) + '\n');
