// Where the integration tests find Redis, NATS and Kafka, in this order:
//
//  1. The environment: RAFTBUS_REDIS_URL, RAFTBUS_NATS_URL and
//     RAFTBUS_KAFKA_BROKERS (a comma-separated host:port list). CI sets all
//     three (.ci/run starts the servers).
//  2. testcontainers, when a Docker engine is reachable (DOCKER_HOST, else
//     /var/run/docker.sock): one container per bus (containers.ts), removed
//     when the test stops it. A container that does not start fails the
//     test, naming the engine, rather than silently testing something else.
//  3. Servers started by @raftbus/testkit (findServer): redis-server and
//     nats-server child processes on free ports; a Kafka broker from
//     scripts/kafka/start.sh on free ports in a temp dir. Each is stopped,
//     and its files removed, by stop().
//  4. None of these: the test fails, saying how to provide the service.
//
// Nothing is ever skipped, with CI=true or without: a missing service fails
// loudly. Servers start in beforeAll, never at import, so a run that filters
// every test out (vitest -t) starts nothing.
//
// startLocalServer() is for tests that must take the server down and bring
// it back (broker-restart.test.ts): it always starts a private server of the
// test's own (testkit's startPrivate*), never touching the shared servers of step 1.
import { connect } from 'node:net';
import { existsSync } from 'node:fs';
import { CONTAINER_IMAGES, startContainer } from './containers.js';
import {
  SERVER_ENV,
  SERVER_TIMEOUT_MS,
  findServer,
  serverFromEnv,
  startPrivateServer,
  type Bus,
  type PrivateServer,
  type ServerHandle,
} from '@raftbus/testkit';

export { freePorts, type Bus } from '@raftbus/testkit';

export const BUSES: readonly Bus[] = ['redis', 'nats', 'kafka'];

/** A running server of one bus (url: redis://, nats://, or Kafka's comma-separated host:port list). */
export type Service = ServerHandle;

/** A server of this test's own, which it may take down (kill) and bring back (restart) on the same port. */
export type LocalServer = PrivateServer;

/** How long a hook that finds a service may take: a first Kafka start downloads its jars. */
export const SERVICE_TIMEOUT_MS = SERVER_TIMEOUT_MS;

/** A Kafka broker's addresses from a Service's url. */
export function brokersOf(service: Service): string[] {
  return service.url.split(',').map((s) => s.trim());
}

/**
 * The server of `bus` to test against, found in the order above. Throws,
 * saying how to provide one, when there is none. stop() it when done.
 */
export async function findService(bus: Bus): Promise<Service> {
  if (serverFromEnv(bus) === undefined) {
    const docker = await reachableDocker();
    if (docker !== undefined) {
      try {
        return await startContainer(bus);
      } catch (e) {
        const env = SERVER_ENV[bus];
        throw new Error(
          `${bus}: ${env} is not set and a Docker engine is reachable (${docker}), so the integration tests ` +
            `started ${bus} (${CONTAINER_IMAGES[bus]}) with testcontainers, and that failed: ${(e as Error).message}. ` +
            `Fix the engine, or set ${env} to a running server.`,
          { cause: e },
        );
      }
    }
  }
  return findServer(bus);
}

/** Starts a private server of `bus` on free ports; throws, saying how to provide one, when it cannot. */
export const startLocalServer = (bus: Bus): Promise<LocalServer> => startPrivateServer(bus);

// ------------------------------------------------------------------ Docker

let docker: Promise<string | undefined> | undefined;

/**
 * The Docker engine testcontainers would use, when something accepts a
 * connection there: DOCKER_HOST (unix:// or tcp://; another scheme counts as
 * configured), else /var/run/docker.sock. Undefined when there is none.
 */
export function reachableDocker(): Promise<string | undefined> {
  docker ??= probeDocker();
  return docker;
}

async function probeDocker(): Promise<string | undefined> {
  const host = process.env['DOCKER_HOST']?.trim();
  if (host) {
    if (host.startsWith('unix://')) return (await accepts({ path: host.slice('unix://'.length) })) ? `DOCKER_HOST=${host}` : undefined;
    if (host.startsWith('tcp://') && URL.canParse(host)) {
      const url = new URL(host);
      const port = url.port === '' ? 2375 : Number(url.port);
      return (await accepts({ host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port })) ? `DOCKER_HOST=${host}` : undefined;
    }
    // ssh://, npipe://: nothing to probe from here; the user pointed at an engine.
    return `DOCKER_HOST=${host}`;
  }
  const socket = '/var/run/docker.sock';
  return existsSync(socket) && (await accepts({ path: socket })) ? socket : undefined;
}

/** Whether a connection to `target` is accepted within a second. */
function accepts(target: { path: string } | { host: string; port: number }): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(target);
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}
