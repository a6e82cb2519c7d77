// Regression test for KafkaTransport.start() against a kafkajs race.
//
// start() creates the node's topic with kafkajs's
// admin.createTopics({ waitForLeaders: true }). After the CreateTopics
// request succeeds, kafkajs 2.2.4 polls the topic's metadata and retries
// only LEADER_NOT_AVAILABLE; a single-node KRaft broker that has not yet
// published the new topic to its metadata cache answers
// UNKNOWN_TOPIC_OR_PARTITION, kafkajs gives up, and start() used to reject
// although the topic existed (tulios/kafkajs#815). Seen for real in
// broker-restart.test.ts on a fresh broker with a busy CPU; this test makes
// the race deterministic by answering the first createTopics exactly as
// kafkajs does when it loses it. The transport now asks again.
import { ConsoleLogger, LogLevel } from '@raftbus/core';
import { KafkaTransport } from '@raftbus/transport-kafka';
import { Kafka, KafkaJSProtocolError, logLevel, type Admin, type AdminConfig } from 'kafkajs';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { Footprint } from './buses.js';
import { brokersOf, findService, SERVICE_TIMEOUT_MS, type Service } from './services.js';

/** The error kafkajs's createTopics rejects with when the broker's metadata does not know the topic yet. */
function unknownTopicOrPartition(): KafkaJSProtocolError {
  return new KafkaJSProtocolError(
    Object.assign(new Error('This server does not host this topic-partition'), { type: 'UNKNOWN_TOPIC_OR_PARTITION', code: 3, retriable: true }),
  );
}

/** A kafkajs client whose admins lose the race once: the first createTopics creates the topic, then rejects. */
class RacingKafka extends Kafka {
  override admin(config?: AdminConfig): Admin {
    const admin = super.admin(config);
    const createTopics = admin.createTopics.bind(admin);
    let raced = false;
    admin.createTopics = async (options) => {
      if (raced) return createTopics(options);
      raced = true;
      await createTopics({ ...options, waitForLeaders: false });
      throw unknownTopicOrPartition();
    };
    return admin;
  }
}

describe('KafkaTransport.start() on a broker that has not yet published the topic it just created', () => {
  let service: Service | undefined;
  const footprint = new Footprint();

  beforeAll(async () => {
    service = await findService('kafka');
  }, SERVICE_TIMEOUT_MS);

  afterAll(async () => {
    if (service !== undefined) await footprint.remove(service);
    await service?.stop();
  }, SERVICE_TIMEOUT_MS);

  it('starts: the topic exists, so UNKNOWN_TOPIC_OR_PARTITION from createTopics is transient, not fatal', async () => {
    const kafka = new RacingKafka({ brokers: brokersOf(service!), clientId: 'raftbus-integration', logLevel: logLevel.NOTHING });
    const transport = new KafkaTransport({ kafka, logger: new ConsoleLogger(LogLevel.Error) });
    const clusterId = `start-race-${Date.now().toString(36)}-${process.pid}`;
    footprint.add(clusterId, 1);
    try {
      await transport.start(clusterId, 1, { onMessage: () => {} });
    } finally {
      await transport.stop();
    }
  }, 60_000);
});
