// Where the Kafka tests find a broker: RAFTBUS_KAFKA_BROKERS (comma-separated
// host:port list) names one; CI must set it (it runs scripts/kafka/start.sh
// first), so there its absence fails loudly; on a developer machine without
// it the tests are skipped, saying how to run them. Reading the environment,
// and the private broker of broker-restart.test.ts, are @raftbus/testkit's
// (serverFromEnv, startPrivateKafka); what needs kafkajs or vitest is here.
import { HOW_TO_PROVIDE, brokerList, isCI, serverFromEnv } from '@raftbus/testkit';
import { Kafka, logLevel } from 'kafkajs';
import { describe } from 'vitest';

function brokersFromEnv(): string[] | undefined {
  const list = brokerList(serverFromEnv('kafka') ?? '');
  if (list.length > 0) return list;
  if (isCI()) {
    throw new Error(`RAFTBUS_KAFKA_BROKERS is not set: in CI the Kafka transport tests must run against a real broker; ${HOW_TO_PROVIDE.kafka}`);
  }
  return undefined;
}

/** The shared broker's addresses, or undefined when the tests are to be skipped. */
export const kafkaBrokers: string[] | undefined = brokersFromEnv();

/** Why the Kafka tests are skipped, or undefined when they run. */
export const skipReason: string | undefined = kafkaBrokers === undefined ? `no Kafka broker (RAFTBUS_KAFKA_BROKERS unset): ${HOW_TO_PROVIDE.kafka}` : undefined;
if (skipReason !== undefined) console.warn(`transport-kafka tests skipped: ${skipReason}`);

/** describe() when a broker is there, a skipped describe naming the reason when not. */
export function describeWithKafka(name: string, body: (brokers: string[]) => void): void {
  const brokers = kafkaBrokers;
  if (brokers === undefined) describe.skip(`${name} (skipped: ${skipReason!})`, () => body([]));
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
