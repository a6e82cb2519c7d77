// Step 2 of services.ts: a server of each bus in a container, started with
// testcontainers when a Docker engine is reachable. Images are pinned so that
// every run tests against the same servers CI's local ones match in spirit:
// Redis 7, NATS 2.10 with JetStream, Kafka in KRaft mode.
//
// testcontainers is imported on first use only: on machines without Docker
// (these CI machines) it is never loaded.
import type { Bus, ServerHandle } from '@raftbus/testkit';

export const CONTAINER_IMAGES: Readonly<Record<Bus, string>> = {
  redis: 'redis:7.4.2',
  nats: 'nats:2.10.24',
  kafka: 'confluentinc/cp-kafka:7.8.0',
};

/** Starts `bus` in a container; stop() removes the container. */
export async function startContainer(bus: Bus): Promise<ServerHandle> {
  switch (bus) {
    case 'redis': {
      const { RedisContainer } = await import('@testcontainers/redis');
      // Raft's storage on Redis needs appendfsync always; the image's default
      // command does not persist, so ask for it explicitly.
      const c = await new RedisContainer(CONTAINER_IMAGES.redis)
        .withCommand(['redis-server', '--appendonly', 'yes', '--appendfsync', 'always'])
        .start();
      return handle(bus, `redis://${c.getHost()}:${c.getPort()}`, () => c.stop());
    }
    case 'nats': {
      // A plain container: @testcontainers/nats adds a user and password,
      // and the other steps give an unauthenticated nats:// URL.
      const { GenericContainer, Wait } = await import('testcontainers');
      const c = await new GenericContainer(CONTAINER_IMAGES.nats)
        .withCommand(['--jetstream'])
        .withExposedPorts(4222)
        .withWaitStrategy(Wait.forLogMessage(/Server is ready/))
        .start();
      return handle(bus, `nats://${c.getHost()}:${c.getMappedPort(4222)}`, () => c.stop());
    }
    case 'kafka': {
      const { KafkaContainer } = await import('@testcontainers/kafka');
      const c = await new KafkaContainer(CONTAINER_IMAGES.kafka).withKraft().start();
      return handle(bus, `${c.getHost()}:${c.getMappedPort(9093)}`, () => c.stop());
    }
  }
}

function handle(bus: Bus, url: string, stop: () => Promise<unknown>): ServerHandle {
  let stopped: Promise<void> | undefined;
  return {
    bus,
    url,
    origin: 'container',
    stop: () => (stopped ??= stop().then(() => undefined)),
  };
}
