// The kv example on each real bus, started the way the raftbus-kv binary
// starts it: three command lines (--transport <bus> --url <server>) parsed
// by its CLI and run by launchKvNode, in this process. A value PUT through
// one node's HTTP API is read back, linearizably, through another's.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchKvNode, parseCommandLine, type KvNode } from '@raftbus/example-kv';
import { waitFor } from '@raftbus/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { Footprint, LogTail } from './buses.js';
import { BUSES, findService, freePorts, SERVICE_TIMEOUT_MS, type Service } from './services.js';

const IDS = [1, 2, 3];
/** Longest wait for an election, or for one request. */
const WAIT_MS = 30_000;

interface Reply {
  status: number;
  text: string;
}

async function http(method: string, url: string, body?: string): Promise<Reply> {
  const res = await fetch(url, { method, signal: AbortSignal.timeout(WAIT_MS), ...(body !== undefined && { body }) });
  return { status: res.status, text: await res.text() };
}

/** A PUT, retried while the answer is a 503 that the README says is safe to retry (no_leader and the like). */
async function put(url: string, value: string): Promise<Reply> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const reply = await http('PUT', url, value);
    const retriable = reply.status === 503 && !reply.text.includes('"stopped"');
    if (!retriable || Date.now() > deadline) return reply;
    await new Promise((r) => setTimeout(r, 100));
  }
}

for (const bus of BUSES) {
  describe(`the kv example on ${bus}`, () => {
    let service: Service | undefined;
    let dir: string | undefined;
    let nodes: KvNode[] = [];
    const footprint = new Footprint();

    beforeAll(async () => {
      service = await findService(bus);
    }, SERVICE_TIMEOUT_MS);

    afterEach(async () => {
      await Promise.all(nodes.map((n) => n.stop()));
      nodes = [];
      if (service !== undefined) await footprint.remove(service);
      if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    }, WAIT_MS);

    afterAll(() => service?.stop(), SERVICE_TIMEOUT_MS);

    it(
      'takes a PUT through one node and answers a linearizable GET of it through another',
      async () => {
        const log = new LogTail();
        onTestFailed(() => {
          process.stderr.write(`kv on ${bus}: the last log lines of the nodes:\n${log.text()}\n`);
        });
        dir = await mkdtemp(join(tmpdir(), `raftbus-it-kv-${bus}-`));
        const clusterId = `kv-${bus}-${Date.now().toString(36)}-${process.pid}`;
        const ports = await freePorts(IDS.length);
        const peers = IDS.map((id, i) => `${id}=http://127.0.0.1:${ports[i]}`).join(',');

        const configs = IDS.map((id) => {
          const command = parseCommandLine([
            '--id', String(id),
            '--peers', peers,
            '--data-dir', join(dir!, `node-${id}`),
            '--transport', bus,
            '--url', service!.url,
            '--cluster', clusterId,
          ]);
          if (command.kind !== 'run') throw new Error(`not a run command: ${JSON.stringify(command)}`);
          expect(command.config.bus.transport).toBe(bus);
          footprint.add(clusterId, id);
          return command.config;
        });
        const started = await Promise.allSettled(configs.map((config) => launchKvNode(config, { logger: log })));
        nodes = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
        for (const s of started) if (s.status === 'rejected') throw s.reason;

        // Every node names the same leader in its /status.
        let leader: number | undefined;
        await waitFor(
          async () => {
            const views = await Promise.all(nodes.map(async (n) => (JSON.parse((await http('GET', `${n.url}/status`)).text) as { leader?: number }).leader));
            leader = views[0];
            return leader !== undefined && views.every((l) => l === leader);
          },
          WAIT_MS,
          `a leader every kv node on ${bus} follows`,
        );

        // Through each node in turn (followers forward to the leader), read back through the next one.
        for (let i = 0; i < nodes.length; i++) {
          const writer = nodes[i]!;
          const reader = nodes[(i + 1) % nodes.length]!;
          const key = `colour-${writer.id}`;
          const value = `blue via node ${writer.id} over ${bus}`;
          const written = await put(`${writer.url}/kv/${key}`, value);
          expect(written.status, written.text).toBe(200);
          expect(JSON.parse(written.text)).toMatchObject({ key, node: writer.id });
          const read = await http('GET', `${reader.url}/kv/${key}`);
          expect(read.status, read.text).toBe(200);
          expect(read.text, `GET /kv/${key} on node ${reader.id}`).toBe(value);
        }
      },
      3 * WAIT_MS,
    );
  });
}
