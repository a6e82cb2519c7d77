// @raftbus/transport-kafka: raft messages over Kafka (kafkajs), one
// single-partition topic per node.
export { KafkaTransport } from './kafka-transport.js';
export {
  DEFAULT_CLIENT_RETRY,
  DEFAULT_CONSUMER_OPTIONS,
  DEFAULT_MAX_FRAME_BYTES,
  DEFAULT_TOPIC_CONFIG,
  type KafkaTransportOptions,
  type KafkaBrokerOptions,
  type KafkaConsumerOptions,
  type KafkaClientOption,
  type KafkaTopicOptions,
} from './options.js';
export { DEFAULT_TOPIC_PREFIX, topicName } from './topic-name.js';
