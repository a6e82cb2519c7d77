// A history on disk, for a person to read and the checker to re-read: JSON
// lines, the header first, then operations and events in time order
// (an operation at its call time):
//
//   {"format":"raftbus-history","version":1,"model":"kv","description":"...", ...}
//   {"op":0,"client":1,"call":0.521,"return":3.2,"status":"ok","input":{"f":"put","key":"a","value":"1"},"output":{}}
//   {"event":"isolated the leader (node 2)","at":1500.25}
//   {"op":7,"client":3,"call":1502.1,"status":"info","input":{"f":"delete","key":"b"},"error":"timed out"}
//
// Times are milliseconds since the recorder started. status ok: returned
// `output`; fail: certainly not applied; info: indeterminate (no return).
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { History, HistoryEvent, Operation, OperationStatus } from './history.js';

export const HISTORY_FORMAT = 'raftbus-history';
export const HISTORY_VERSION = 1;

/** The header fields a caller chooses. */
export interface HeaderFields {
  /** The model the operations are written for (Model.name), e.g. "kv". */
  model: string;
  /** What the run did, in a sentence. */
  description?: string;
  /** Wall-clock time the run started (ISO 8601), for finding its logs. */
  startedAt?: string;
  /** Anything else about the run (bus, seed, scenario). */
  [detail: string]: unknown;
}

export interface HistoryHeader extends HeaderFields {
  format: typeof HISTORY_FORMAT;
  version: typeof HISTORY_VERSION;
}

export interface HistoryFile<Input, Output> extends History<Input, Output> {
  header: HistoryHeader;
}

/** The file's text: one JSON object per line. */
export function formatHistory<Input, Output>(fields: HeaderFields, history: History<Input, Output>): string {
  const header: HistoryHeader = { format: HISTORY_FORMAT, version: HISTORY_VERSION, ...fields };
  // At equal times an event comes first (a test notes a fault, then its clients go on).
  const lines: { at: number; order: number; text: string }[] = [];
  history.events.forEach((ev, order) => {
    lines.push({ at: ev.at, order, text: JSON.stringify({ event: ev.event, at: ev.at }) });
  });
  history.operations.forEach((op, i) => {
    const line = {
      op: op.id,
      client: op.client,
      call: op.call,
      ...(op.return !== undefined && { return: op.return }),
      status: op.status,
      input: op.input,
      ...(op.output !== undefined && { output: op.output }),
      ...(op.error !== undefined && { error: op.error }),
    };
    lines.push({ at: op.call, order: history.events.length + i, text: JSON.stringify(line) });
  });
  lines.sort((a, b) => a.at - b.at || a.order - b.order);
  return [JSON.stringify(header), ...lines.map((l) => l.text)].join('\n') + '\n';
}

/** A malformed history file; the message names the line. */
export class ErrBadHistory extends Error {
  constructor(line: number, why: string) {
    super(`history line ${line}: ${why}`);
    this.name = new.target.name;
  }
}

const STATUSES: readonly OperationStatus[] = ['ok', 'fail', 'info'];

/** Reads a file's text back. Inputs and outputs are taken as written (the model's types are the caller's promise). */
export function parseHistory<Input, Output>(text: string): HistoryFile<Input, Output> {
  const lines = text.split('\n');
  const parse = (i: number): Record<string, unknown> => {
    try {
      const value: unknown = JSON.parse(lines[i]!);
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not an object');
      return value as Record<string, unknown>;
    } catch (e) {
      throw new ErrBadHistory(i + 1, e instanceof Error ? e.message : String(e));
    }
  };
  const header = parse(0);
  if (header['format'] !== HISTORY_FORMAT) throw new ErrBadHistory(1, `not a ${HISTORY_FORMAT} header`);
  if (header['version'] !== HISTORY_VERSION) throw new ErrBadHistory(1, `version ${String(header['version'])}, expected ${HISTORY_VERSION}`);
  if (typeof header['model'] !== 'string') throw new ErrBadHistory(1, 'no model');
  const operations: Operation<Input, Output>[] = [];
  const events: HistoryEvent[] = [];
  for (let i = 1; i < lines.length; i++) {
    if (lines[i]!.trim() === '') continue;
    const line = parse(i);
    if (typeof line['event'] === 'string') {
      if (typeof line['at'] !== 'number') throw new ErrBadHistory(i + 1, 'an event without a time');
      events.push({ event: line['event'], at: line['at'] });
      continue;
    }
    const { op: id, client, call, status } = line;
    if (typeof id !== 'number' || typeof client !== 'number' || typeof call !== 'number') {
      throw new ErrBadHistory(i + 1, 'an operation needs numbers op, client and call');
    }
    if (!STATUSES.includes(status as OperationStatus)) throw new ErrBadHistory(i + 1, `status ${JSON.stringify(status)}`);
    if (!('input' in line)) throw new ErrBadHistory(i + 1, 'an operation without input');
    const op: Operation<Input, Output> = { id, client, call, status: status as OperationStatus, input: line['input'] as Input };
    if (typeof line['return'] === 'number') op.return = line['return'];
    if ('output' in line) op.output = line['output'] as Output;
    if (typeof line['error'] === 'string') op.error = line['error'];
    if (op.status === 'ok' && (op.return === undefined || op.output === undefined)) throw new ErrBadHistory(i + 1, 'an ok operation needs return and output');
    operations.push(op);
  }
  // The checker and a reader expect call order, as recorded.
  operations.sort((a, b) => a.call - b.call || a.id - b.id);
  return { header: header as HistoryHeader, operations, events };
}

/** Writes the history to `path` (making its directory). */
export async function writeHistoryFile<Input, Output>(path: string, fields: HeaderFields, history: History<Input, Output>): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, formatHistory(fields, history));
}

export async function readHistoryFile<Input, Output>(path: string): Promise<HistoryFile<Input, Output>> {
  return parseHistory<Input, Output>(await readFile(path, 'utf8'));
}
