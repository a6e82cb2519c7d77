// Where the Kafka tests find a broker. RAFTBUS_KAFKA_BROKERS (comma-separated
// host:port list) names one; CI must set it (it runs scripts/kafka/start.sh
// first), so there its absence fails loudly; on a developer machine without
// it the tests are skipped, saying how to run them.
//
// The broker-restart test needs a broker it may stop: it starts a private
// one with the same scripts (other test files keep using the shared one).
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import { describe } from 'vitest';

const scripts = resolve(fileURLToPath(import.meta.url), '../../../../scripts/kafka');
const howTo =
  'start a broker with `scripts/kafka/start.sh` (Java 17 and Maven; it prints KAFKA_BROKER=127.0.0.1:9092) ' +
  'and run the tests with RAFTBUS_KAFKA_BROKERS=127.0.0.1:9092';

function brokersFromEnv(): string[] | undefined {
  const list = (process.env['RAFTBUS_KAFKA_BROKERS'] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (list.length > 0) return list;
  if (process.env['CI'] === 'true') {
    throw new Error(`RAFTBUS_KAFKA_BROKERS is not set: in CI the Kafka transport tests must run against a real broker; ${howTo}`);
  }
  return undefined;
}

/** The shared broker's addresses, or undefined when the tests are to be skipped. */
export const kafkaBrokers: string[] | undefined = brokersFromEnv();

const skipReason = `no Kafka broker (RAFTBUS_KAFKA_BROKERS unset): ${howTo}`;
if (kafkaBrokers === undefined) console.warn(`transport-kafka tests skipped: ${skipReason}`);

/** describe() when a broker is there, a skipped describe naming the reason when not. */
export function describeWithKafka(name: string, body: (brokers: string[]) => void): void {
  const brokers = kafkaBrokers;
  if (brokers === undefined) describe.skip(`${name} (skipped: ${skipReason})`, () => body([]));
  else describe(name, () => body(brokers));
}

/** Deletes topics a test made, so that a long-lived broker does not collect them. Best effort. */
export async function deleteTopics(brokers: string[], topics: string[]): Promise<void> {
  if (topics.length === 0) return;
  const admin = new Kafka({ brokers, clientId: 'raftbus-test-cleanup', logLevel: logLevel.NOTHING }).admin();
  try {
    await admin.connect();
    const existing = new Set(await admin.listTopics());
    const doomed = [...new Set(topics)].filter((t) => existing.has(t));
    if (doomed.length > 0) await admin.deleteTopics({ topics: doomed, timeout: 5_000 });
  } catch {
    // A leftover topic costs nothing but disk: never fail a test over it.
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** A broker of this test's own, from scripts/kafka, which it can stop and start again. */
export interface PrivateBroker {
  readonly brokers: string[];
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops it and removes its data. */
  destroy(): Promise<void>;
}

/** Why a private broker cannot be started here, or undefined when it can. */
export function privateBrokerUnavailable(): string | undefined {
  if (kafkaBrokers === undefined) return skipReason;
  if (spawnSync('java', ['-version']).status !== 0) return 'no java on PATH to run a private broker (scripts/kafka/start.sh)';
  const cache = join(homedir(), '.cache/raftbus');
  const cached =
    process.env['RAFTBUS_KAFKA_CACHE'] !== undefined ||
    (existsSync(cache) && readdirSync(cache).some((d) => existsSync(join(cache, d, 'libs'))));
  if (!cached && spawnSync('mvn', ['-v']).status !== 0) return 'no Kafka jars cached and no mvn on PATH (scripts/kafka/start.sh)';
  return undefined;
}

export async function startPrivateBroker(): Promise<PrivateBroker> {
  const [port, controllerPort] = await freePorts(2);
  const env = {
    ...process.env,
    RAFTBUS_KAFKA_PORT: String(port),
    RAFTBUS_KAFKA_CONTROLLER_PORT: String(controllerPort),
    RAFTBUS_KAFKA_DIR: mkdtempSync(join(tmpdir(), 'raftbus-kafka-test-')),
  };
  const run = (script: string, ...args: string[]) =>
    new Promise<void>((ok, fail) => {
      execFile(join(scripts, script), args, { env, timeout: 180_000 }, (error, _stdout, stderr) => {
        if (error) fail(new Error(`${script} failed: ${error.message}\n${stderr}`));
        else ok();
      });
    });
  await run('start.sh');
  return {
    brokers: [`127.0.0.1:${port}`],
    stop: () => run('stop.sh'),
    start: () => run('start.sh'),
    destroy: () => run('stop.sh', '--clean'),
  };
}

async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((ok, fail) => {
          const s = createServer();
          s.once('error', fail);
          s.listen(0, '127.0.0.1', () => ok(s));
        }),
    ),
  );
  const ports = servers.map((s) => {
    const address = s.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    return address.port;
  });
  await Promise.all(servers.map((s) => new Promise((ok) => s.close(ok))));
  return ports;
}
