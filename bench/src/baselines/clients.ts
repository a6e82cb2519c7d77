// The bus client libraries the baselines measure, pinned to the very
// versions the transports run on (bench/package.json pins the same ones as
// transport-redis, transport-nats and transport-kafka), so a baseline is the
// raw speed of the client the transport itself uses.
import { connect } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import { Kafka, logLevel, Partitioners } from 'kafkajs';

export type RedisClient = Redis;
export type NatsConnection = Awaited<ReturnType<typeof connect>>;
export type KafkaClient = Kafka;

export const ioredis = () => ({ Redis });
export const nats = () => ({ connect });
export const kafkajs = () => ({ Kafka, Partitioners, logLevel });
