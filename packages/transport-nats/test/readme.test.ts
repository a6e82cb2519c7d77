// The README's first snippet, run as written: only the server URL is
// replaced, and its imports are bound to this package's sources.
import * as core from '@raftbus/core';
import { findNats, whyNo, type ServerHandle } from '@raftbus/testkit';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as transportNats from '../src/index.js';

const skipped = whyNo('nats');
const modules: Record<string, Record<string, unknown>> = { '@raftbus/core': core, '@raftbus/transport-nats': transportNats };

describe.skipIf(skipped !== undefined)(skipped === undefined ? 'README' : `README (skipped: ${skipped})`, () => {
  let nats: ServerHandle;
  beforeAll(async () => {
    nats = await findNats();
  });
  afterAll(() => nats?.stop());

  it('runs the snippet the README starts with', async () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const snippet = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(snippet, 'a ts code block').toBeDefined();
    const names: string[] = [];
    const values: unknown[] = [];
    const body = snippet!.replace(/^import \{([^}]+)\} from '([^']+)';$/gm, (_line, list: string, from: string) => {
      for (const name of list.split(',').map((n) => n.trim())) {
        expect(modules[from]?.[name], `${name} exported by ${from}`).toBeDefined();
        names.push(name);
        values.push(modules[from]![name]);
      }
      return '';
    });
    expect(body).not.toMatch(/^import /m);
    expect(body).toContain("'nats://127.0.0.1:4222'");
    const printed: unknown[] = [];
    const console = { log: (...args: unknown[]) => printed.push(args.length === 1 ? args[0] : args) };
    // The snippet is valid JavaScript as well as TypeScript: no annotations to strip.
    const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor as new (...args: string[]) => (...args: unknown[]) => Promise<void>;
    const run = new AsyncFunction(...names, 'console', body.replaceAll('nats://127.0.0.1:4222', nats.url));
    await run(...values, console);
    expect(printed[0]).toBe('node 2 got MsgHeartbeat from node 1');
    expect(printed[1]).toEqual({ sent: 1, received: 0, dropped: 0, sendFailures: 0 });
  });
});
