import { LogLevel, ConsoleLogger } from '@raftbus/core';
import { transportConformance } from '@raftbus/testkit';
import { KafkaTransport, topicName } from '../src/index.js';
import { deleteTopics, describeWithKafka } from './kafka-server.js';

describeWithKafka('KafkaTransport', (brokers) => {
  const logger = new ConsoleLogger(LogLevel.Warning);
  transportConformance(
    'KafkaTransport',
    async () => {
      const topics: string[] = [];
      return {
        transport: (nodeId, clusterId) => {
          topics.push(topicName('raftbus', clusterId, nodeId));
          return new KafkaTransport({ brokers, logger });
        },
        cleanup: () => deleteTopics(brokers, topics),
      };
    },
    {
      // A node's topic exists once it has started: sending to one that never did fails at once.
      detectsUnknownPeers: true,
    },
  );
});
