// Where the integration tests find Redis, NATS and Kafka, in this order:
//
//  1. The environment: RAFTBUS_REDIS_URL, RAFTBUS_NATS_URL and
//     RAFTBUS_KAFKA_BROKERS (a comma-separated host:port list). CI sets all
//     three (.ci/run starts the servers).
//  2. testcontainers, when a Docker engine is reachable (DOCKER_HOST, else
//     /var/run/docker.sock). Not wired yet: a reachable engine fails the
//     test, saying so, rather than silently testing something else.
//  3. Servers started here: redis-server and nats-server child processes on
//     free ports; a Kafka broker from scripts/kafka/start.sh on free ports in
//     a temp dir. Each is stopped, and its files removed, by stop().
//  4. None of these: the test fails, saying how to provide the service.
//
// Nothing is ever skipped, with CI=true or without: a missing service fails
// loudly. Servers start in beforeAll, never at import, so a run that filters
// every test out (vitest -t) starts nothing.
//
// startLocalServer() is for tests that must take the server down and bring
// it back (broker-restart.test.ts): it always starts a private server of the
// test's own, never touching the shared servers of step 1.
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export type Bus = 'redis' | 'nats' | 'kafka';

export const BUSES: readonly Bus[] = ['redis', 'nats', 'kafka'];

/** A running server of one bus. */
export interface Service {
  readonly bus: Bus;
  /** redis://host:port, nats://host:port, or Kafka's comma-separated host:port list. */
  readonly address: string;
  /** Whether the environment named it, or this process started it. */
  readonly origin: 'env' | 'local';
  /** Stops the server if this process started it (and removes its files); nothing for a server of the environment. */
  stop(): Promise<void>;
}

/** A server of this test's own, which it may take down and bring back on the same port. */
export interface LocalServer extends Service {
  readonly origin: 'local';
  /** Takes the server down: SIGKILL for Redis and NATS (a crash), scripts/kafka/stop.sh for Kafka. */
  down(): Promise<void>;
  /** Brings it back on the same port (Kafka with its data; Redis and NATS empty). */
  up(): Promise<void>;
}

/** How long a hook that finds a service may take: a first Kafka start downloads its jars. */
export const SERVICE_TIMEOUT_MS = 240_000;

/** A Kafka broker's addresses from a Service's address. */
export function brokersOf(service: Service): string[] {
  return service.address.split(',').map((s) => s.trim());
}

const ENV: Record<Bus, string> = {
  redis: 'RAFTBUS_REDIS_URL',
  nats: 'RAFTBUS_NATS_URL',
  kafka: 'RAFTBUS_KAFKA_BROKERS',
};

const HOW_TO_PROVIDE: Record<Bus, string> = {
  redis:
    'set RAFTBUS_REDIS_URL=redis://host:port to a running Redis, or install redis-server ' +
    '(apt-get install -y redis-server; REDIS_SERVER names the binary if it is not on PATH) so the tests start their own',
  nats:
    'set RAFTBUS_NATS_URL=nats://host:port to a running NATS server, or install nats-server ' +
    '(apt-get install -y nats-server; RAFTBUS_NATS_SERVER names the binary if it is not on PATH) so the tests start their own',
  kafka:
    'set RAFTBUS_KAFKA_BROKERS=host:port[,host:port...] to a running broker (scripts/kafka/start.sh starts one and prints it), ' +
    'or install Java 17 and Maven (apt-get install -y openjdk-17-jre-headless maven) so the tests start their own with scripts/kafka/start.sh',
};

/**
 * The server of `bus` to test against, found in the order above. Throws,
 * saying how to provide one, when there is none. stop() it when done.
 */
export async function findService(bus: Bus): Promise<Service> {
  const fromEnv = process.env[ENV[bus]]?.trim();
  if (fromEnv) return { bus, address: fromEnv, origin: 'env', stop: async () => {} };
  const docker = await reachableDocker();
  if (docker !== undefined) {
    throw new Error(
      `${bus}: ${ENV[bus]} is not set and a Docker engine is reachable (${docker}), so the integration tests would ` +
        `start ${bus} with testcontainers, but testcontainers support is not wired yet. Set ${ENV[bus]} to a running ` +
        `server instead (or run the tests where no Docker engine is reachable, and they start a local ${bus} themselves).`,
    );
  }
  const missing = localServerUnavailable(bus);
  if (missing !== undefined) {
    throw new Error(`${bus}: no server to test against (${missing}): ${HOW_TO_PROVIDE[bus]}`);
  }
  return startLocalServer(bus);
}

/** Why startLocalServer(bus) cannot work on this machine, or undefined when it can. */
export function localServerUnavailable(bus: Bus): string | undefined {
  switch (bus) {
    case 'redis':
      return findBinary('REDIS_SERVER', 'redis-server') === undefined ? 'no redis-server binary' : undefined;
    case 'nats':
      return findBinary('RAFTBUS_NATS_SERVER', 'nats-server') === undefined ? 'no nats-server binary' : undefined;
    case 'kafka':
      return kafkaUnavailable();
  }
}

/** Starts a private server of `bus` on free ports; throws, saying how to provide one, when it cannot. */
export async function startLocalServer(bus: Bus): Promise<LocalServer> {
  const missing = localServerUnavailable(bus);
  if (missing !== undefined) throw new Error(`${bus}: cannot start a local server (${missing}): ${HOW_TO_PROVIDE[bus]}`);
  switch (bus) {
    case 'redis':
      return ChildServer.start(bus, REDIS);
    case 'nats':
      return ChildServer.start(bus, NATS);
    case 'kafka':
      return ScriptKafka.start();
  }
}

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

// ------------------------------------------------------------------ ports, binaries, exit

/** TCP ports nothing listens on right now, distinct (the OS picks them). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, async () => {
      const server = createServer();
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      return server;
    }),
  );
  const ports = servers.map((s) => {
    const address = s.address();
    if (address === null || typeof address === 'string') throw new Error('no TCP port');
    return address.port;
  });
  await Promise.all(servers.map((s) => new Promise((ok) => s.close(ok))));
  return ports;
}

/** An executable: the one `envVar` names, else `name` on PATH or in the sbin directories Debian installs servers to. */
function findBinary(envVar: string, name: string): string | undefined {
  const named = process.env[envVar];
  const candidates =
    named !== undefined && named !== ''
      ? [named]
      : [...(process.env['PATH'] ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/usr/local/bin']
          .filter((dir) => dir !== '')
          .map((dir) => join(dir, name));
  return candidates.find((path) => {
    try {
      accessSync(path, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** Cleanups that must run even if the test process exits without its afterAll hooks (synchronous: it is exiting). */
const atExit = new Set<() => void>();
process.once('exit', () => {
  for (const cleanup of atExit) {
    try {
      cleanup();
    } catch {
      // exiting anyway
    }
  }
});

// ------------------------------------------------------------------ redis-server, nats-server

interface ChildSpec {
  envVar: string;
  binary: string;
  args(port: number, dir: string): string[];
  /** Printed once the server accepts connections. */
  ready: string;
  url(port: number): string;
}

const REDIS: ChildSpec = {
  envVar: 'REDIS_SERVER',
  binary: 'redis-server',
  args: (port, dir) => [
    '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no',
  ],
  ready: 'Ready to accept connections',
  url: (port) => `redis://127.0.0.1:${port}`,
};

const NATS: ChildSpec = {
  envVar: 'RAFTBUS_NATS_SERVER',
  binary: 'nats-server',
  args: (port) => ['-a', '127.0.0.1', '-p', String(port)],
  ready: 'Server is ready',
  url: (port) => `nats://127.0.0.1:${port}`,
};

/** A server run as a child process of the test, in a temp dir of its own. */
class ChildServer implements LocalServer {
  readonly origin = 'local';
  readonly address: string;
  private child: ChildProcess | undefined;
  private readonly dir = mkdtempSync(join(tmpdir(), 'raftbus-it-server-'));
  private readonly onExit = () => {
    this.child?.kill('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  };

  private constructor(
    readonly bus: Bus,
    private readonly spec: ChildSpec,
    private readonly binary: string,
    private readonly port: number,
  ) {
    this.address = spec.url(port);
    atExit.add(this.onExit);
  }

  static async start(bus: Bus, spec: ChildSpec): Promise<ChildServer> {
    const binary = findBinary(spec.envVar, spec.binary)!;
    // Another process may take the free port before the server binds it: try a few.
    for (let attempt = 1; ; attempt++) {
      const [port] = await freePorts(1);
      const server = new ChildServer(bus, spec, binary, port!);
      try {
        await server.up();
        return server;
      } catch (e) {
        await server.stop();
        if (attempt >= 3) throw e;
      }
    }
  }

  async up(): Promise<void> {
    if (this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null) return;
    // Just after down() the port may still be held for a moment: retry for a while.
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        await this.spawn();
        return;
      } catch (e) {
        if (Date.now() > deadline) throw e;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  async down(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    await this.down();
    atExit.delete(this.onExit);
    rmSync(this.dir, { recursive: true, force: true });
  }

  private spawn(): Promise<void> {
    const child = spawn(this.binary, this.spec.args(this.port, this.dir), { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    return new Promise<void>((resolve, reject) => {
      let log = '';
      const timer = setTimeout(() => fail('not ready within 10 s'), 10_000);
      const onData = (chunk: Buffer) => {
        log += chunk.toString();
        if (!log.includes(this.spec.ready)) return;
        cleanup();
        // Keep draining its output, or a chatty server would block on a full pipe.
        child.stdout!.resume();
        child.stderr!.resume();
        resolve();
      };
      const onExit = (code: number | null, signal: NodeJS.Signals | null) => fail(`exited with ${code ?? signal}`);
      const onError = (e: Error) => fail(e.message);
      const cleanup = () => {
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        child.stderr!.off('data', onData);
        child.off('exit', onExit);
        child.off('error', onError);
      };
      const fail = (why: string) => {
        cleanup();
        if (this.child === child) this.child = undefined;
        child.kill('SIGKILL');
        reject(new Error(`${this.spec.binary} on port ${this.port} did not start (${why}):\n${log}`));
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', onExit);
      child.once('error', onError);
    });
  }
}

// ------------------------------------------------------------------ Kafka, from scripts/kafka

const KAFKA_SCRIPTS = resolve(fileURLToPath(import.meta.url), '../../../scripts/kafka');

function kafkaUnavailable(): string | undefined {
  const java = process.env['JAVA'] ?? 'java';
  if (spawnSync(java, ['-version'], { stdio: 'ignore' }).status !== 0) return `no ${java} on PATH to run the broker`;
  const version = process.env['RAFTBUS_KAFKA_VERSION'] ?? '3.9.2';
  const cache = process.env['RAFTBUS_KAFKA_CACHE'] ?? join(homedir(), '.cache', 'raftbus', `kafka-${version}`);
  if (existsSync(join(cache, 'libs'))) return undefined;
  if (spawnSync('mvn', ['-v'], { stdio: 'ignore' }).status !== 0) return `no Kafka ${version} jars in ${cache} and no mvn on PATH to fetch them`;
  return undefined;
}

/** A single-node KRaft broker of scripts/kafka, on free ports, its config and data in a temp dir. */
class ScriptKafka implements LocalServer {
  readonly bus = 'kafka';
  readonly origin = 'local';
  readonly address: string;
  private readonly onExit = () => {
    // The broker is not our child (start.sh runs it under nohup): kill it by the pid the script wrote.
    const pidFile = join(this.env['RAFTBUS_KAFKA_DIR']!, 'kafka.pid');
    try {
      if (existsSync(pidFile)) process.kill(Number(readFileSync(pidFile, 'utf8').trim()), 'SIGKILL');
    } catch {
      // already gone
    }
    rmSync(this.env['RAFTBUS_KAFKA_DIR']!, { recursive: true, force: true });
  };

  private constructor(
    port: number,
    private readonly env: NodeJS.ProcessEnv,
  ) {
    this.address = `127.0.0.1:${port}`;
    atExit.add(this.onExit);
  }

  static async start(): Promise<ScriptKafka> {
    const [port, controllerPort] = await freePorts(2);
    const kafka = new ScriptKafka(port!, {
      ...process.env,
      RAFTBUS_KAFKA_PORT: String(port),
      RAFTBUS_KAFKA_CONTROLLER_PORT: String(controllerPort),
      RAFTBUS_KAFKA_DIR: mkdtempSync(join(tmpdir(), 'raftbus-it-kafka-')),
    });
    try {
      await kafka.up();
    } catch (e) {
      await kafka.stop();
      throw e;
    }
    return kafka;
  }

  up(): Promise<void> {
    return this.run('start.sh');
  }

  down(): Promise<void> {
    return this.run('stop.sh');
  }

  /** Stops the broker and removes its directory. */
  async stop(): Promise<void> {
    await this.run('stop.sh', '--clean');
    atExit.delete(this.onExit);
  }

  private run(script: string, ...args: string[]): Promise<void> {
    return new Promise((ok, fail) => {
      execFile('bash', [join(KAFKA_SCRIPTS, script), ...args], { env: this.env, timeout: SERVICE_TIMEOUT_MS - 10_000 }, (error, _stdout, stderr) => {
        if (error) fail(new Error(`scripts/kafka/${script} failed: ${error.message}\n${stderr}`));
        else ok();
      });
    });
  }
}
