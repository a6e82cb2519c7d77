// The history recorder (what a client stamps) and the history file (what a
// person reads and the checker re-reads).
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  checkLinearizability,
  ErrBadHistory,
  formatHistory,
  HistoryRecorder,
  kvModel,
  parseHistory,
  readHistoryFile,
  writeHistoryFile,
  type KvInput,
  type KvOutput,
} from '../src/linearizability/index.js';

/** A clock the test moves by hand. */
function manualClock(start = 1000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

describe('HistoryRecorder', () => {
  it('stamps calls and returns from its start, and keeps what each operation came to', () => {
    const clock = manualClock();
    const rec = new HistoryRecorder<KvInput, KvOutput>(clock.now);
    clock.advance(1.5);
    const put = rec.invoke(1, { f: 'put', key: 'a', value: '1' });
    const get = rec.invoke(2, { f: 'get', key: 'a' });
    clock.advance(2.25);
    put.ok({});
    rec.note('isolated node 2');
    clock.advance(1);
    get.info('timed out');
    const refused = rec.invoke(1, { f: 'delete', key: 'a' });
    refused.fail('not the leader');
    const open = rec.invoke(3, { f: 'get', key: 'a' });

    const h = rec.history();
    expect(h.operations).toEqual([
      { id: 0, client: 1, input: { f: 'put', key: 'a', value: '1' }, call: 1.5, return: 3.75, status: 'ok', output: {} },
      { id: 1, client: 2, input: { f: 'get', key: 'a' }, call: 1.5, status: 'info', error: 'timed out' },
      { id: 2, client: 1, input: { f: 'delete', key: 'a' }, call: 4.75, return: 4.75, status: 'fail', error: 'not the leader' },
      { id: 3, client: 3, input: { f: 'get', key: 'a' }, call: 4.75, status: 'info', error: 'still pending when the history was taken' },
    ]);
    expect(h.events).toEqual([{ at: 3.75, event: 'isolated node 2' }]);
    expect(() => put.ok({})).toThrow(/settled twice/);
    open.ok({ value: '1' });
    expect(rec.history().operations[3]).toMatchObject({ status: 'ok', return: 4.75 });
  });

  it('rounds times to the microsecond', () => {
    const clock = manualClock(0);
    const rec = new HistoryRecorder<KvInput, KvOutput>(clock.now);
    clock.advance(0.1234567);
    expect(rec.now()).toBe(0.123);
  });
});

describe('history files', () => {
  function sampleHistory() {
    const clock = manualClock();
    const rec = new HistoryRecorder<KvInput, KvOutput>(clock.now);
    const a = rec.invoke(1, { f: 'put', key: 'a', value: 'x "quoted"\n' });
    clock.advance(1);
    rec.note('killed the leader (node 1)');
    const b = rec.invoke(2, { f: 'get', key: 'a' });
    clock.advance(1);
    a.ok({});
    b.ok({ value: null });
    rec.invoke(3, { f: 'delete', key: 'a' }).info('timed out');
    return rec.history();
  }

  it('puts the header first, then operations and events in time order, one JSON object a line', () => {
    const text = formatHistory({ model: 'kv', description: 'a sample', bus: 'memory' }, sampleHistory());
    const lines = text.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]).toEqual({ format: 'raftbus-history', version: 1, model: 'kv', description: 'a sample', bus: 'memory' });
    expect(lines.slice(1).map((l) => l['op'] ?? l['event'])).toEqual([0, 'killed the leader (node 1)', 1, 2]);
    expect(lines[3]).toEqual({ op: 1, client: 2, call: 1, return: 2, status: 'ok', input: { f: 'get', key: 'a' }, output: { value: null } });
    expect(lines[4]).toEqual({ op: 2, client: 3, call: 2, status: 'info', input: { f: 'delete', key: 'a' }, error: 'timed out' });
  });

  it('reads back what it wrote, and the checker gives the same verdict', async () => {
    const history = sampleHistory();
    const dir = await mkdtemp(join(tmpdir(), 'raftbus-history-'));
    try {
      const path = join(dir, 'nested', 'run.jsonl');
      await writeHistoryFile(path, { model: 'kv', seed: 5 }, history);
      const file = await readHistoryFile<KvInput, KvOutput>(path);
      expect(file.header).toMatchObject({ format: 'raftbus-history', version: 1, model: 'kv', seed: 5 });
      expect(file.operations).toEqual(history.operations);
      expect(file.events).toEqual(history.events);
      // The put and the read of nothing overlap: either order is fine.
      expect(checkLinearizability(kvModel, file.operations).verdict).toBe('linearizable');
      expect((await readFile(path, 'utf8')).endsWith('\n')).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('names the line of a malformed file', () => {
    const header = JSON.stringify({ format: 'raftbus-history', version: 1, model: 'kv' });
    expect(() => parseHistory('{"format":"something else"}')).toThrow(ErrBadHistory);
    expect(() => parseHistory(JSON.stringify({ format: 'raftbus-history', version: 2, model: 'kv' }))).toThrow(/line 1: version 2/);
    expect(() => parseHistory(`${header}\nnot json`)).toThrow(/line 2/);
    expect(() => parseHistory(`${header}\n{"op":0,"client":1,"call":0,"status":"ok","input":{}}`)).toThrow(/line 2: an ok operation needs return and output/);
    expect(() => parseHistory(`${header}\n{"op":0,"client":1,"call":0,"status":"maybe","input":{}}`)).toThrow(/line 2: status "maybe"/);
    expect(parseHistory(`${header}\n\n`).operations).toEqual([]);
  });
});
