// pnpm bench [--quick] [--suite NAME]... [--render-only]
// Runs the registered suites (all by default), writes each one's results to
// bench/results/<suite>[.quick].json, then renders BENCHMARKS.md and its chart
// from every results file there. --quick runs each benchmark briefly (CI uses
// it to prove the benchmarks work; its numbers are not meant to be read) and
// renders into bench/results/ instead of over the committed BENCHMARKS.md.
import { parseArgs } from 'node:util';
import { render } from './render.js';
import { writeResults } from './results.js';
import { suites } from './suites.js';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      suite: { type: 'string', multiple: true },
      'render-only': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const known = suites.map((s) => s.name);
  if (values.help) {
    console.log(`usage: pnpm bench [--quick] [--suite ${known.join('|')}]... [--render-only]`);
    return 0;
  }
  const wanted = (values.suite ?? []).flatMap((s) => s.split(','));
  const unknown = wanted.filter((w) => !known.includes(w));
  if (unknown.length > 0) {
    console.error(`unknown suite ${unknown.join(', ')}; known: ${known.join(', ')}`);
    return 2;
  }
  const quick = values.quick ?? false;
  let failed = 0;
  if (!values['render-only']) {
    for (const suite of suites.filter((s) => wanted.length === 0 || wanted.includes(s.name))) {
      const startedAt = new Date();
      console.log(`== ${suite.name}${quick ? ' (quick)' : ''}`);
      try {
        const results = await suite.run({ quick, log: (line) => console.log(`  ${line}`) });
        console.log(`  wrote ${await writeResults(suite.name, startedAt, quick, results)}`);
      } catch (e) {
        failed++;
        console.error(`  suite ${suite.name} failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      }
    }
  }
  const out = await render({ quick });
  console.log(`rendered ${out.markdown} and ${out.chart}`);
  return failed === 0 ? 0 : 1;
}

process.exitCode = await main();
