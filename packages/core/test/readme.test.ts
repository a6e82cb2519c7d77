import { readFileSync } from 'node:fs';
import { expect, it, vi } from 'vitest';

it('the README starts with readme-example.ts, verbatim, and it runs', async () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const example = readFileSync(new URL('./readme-example.ts', import.meta.url), 'utf8');
  expect(/```ts\n([\s\S]*?)```/.exec(readme)?.[1]).toBe(example);

  const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
  try {
    await import('./readme-example.js');
    const lines = log.mock.calls.map((args) => args.map(String).join(' '));
    expect(lines).toEqual(['leader: 1', 'applied on node 1: hello']);
  } finally {
    log.mockRestore();
  }
});
