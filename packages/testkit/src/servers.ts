// Where raftbus's tests find Redis, NATS and Kafka, in this order:
//
//  1. The environment: RAFTBUS_REDIS_URL, RAFTBUS_NATS_URL and
//     RAFTBUS_KAFKA_BROKERS (a comma-separated host:port list). CI sets all
//     three (.ci/run starts the servers).
//  2. Servers started here: redis-server and nats-server child processes on
//     free ports; a Kafka broker from scripts/kafka/start.sh on free ports in
//     a temp dir. Each is stopped, and its files removed, by stop().
//  3. None of these: with CI=true, whyNo(bus) throws, saying how to provide
//     the service (CI never skips); on a developer machine it returns the
//     reason, for describe.skipIf.
//
// startPrivateRedis/Nats/Kafka() are for tests that must take the server
// down and bring it back on the same port (auth, restarts, AOF, max_payload):
// they always start a server of the test's own, never the shared one of 1.
//
// This module starts processes with node:child_process and the scripts in
// scripts/kafka; it imports no transport and no client library.
// Servers start in beforeAll, never at import: a run that filters every test
// out (vitest -t) runs no hooks, and would leave a server behind.
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export type Bus = 'redis' | 'nats' | 'kafka';

/** A running server of one bus. */
export interface ServerHandle {
  readonly bus: Bus;
  /** redis://host:port, nats://host:port, or Kafka's comma-separated host:port list. */
  readonly url: string;
  /** Whether the environment named it, this process started it, or a container (testcontainers) runs it. */
  readonly origin: 'env' | 'local' | 'container';
  /** Stops the server if this process started it (and removes its files); nothing for a server of the environment. */
  stop(): Promise<void>;
}

/** A Kafka broker: its addresses as a list too. */
export interface KafkaHandle extends ServerHandle {
  readonly brokers: string[];
}

/** A server of the test's own, which it may take down and bring back on the same port. */
export interface PrivateServer extends ServerHandle {
  readonly origin: 'local';
  readonly port: number;
  /** Takes the server down: SIGKILL for Redis and NATS (a crash), scripts/kafka/stop.sh for Kafka. */
  kill(): Promise<void>;
  /** Brings it back on the same port, with the same arguments (Kafka with its data; Redis and NATS as their arguments say). */
  restart(): Promise<void>;
}

export interface PrivateNats extends PrivateServer {
  /** Brings it back on the same port, optionally with other options (a new max_payload, say). */
  restart(options?: Partial<PrivateNatsOptions>): Promise<void>;
}

export interface PrivateKafka extends PrivateServer {
  readonly brokers: string[];
}

export interface PrivateNatsOptions {
  /** Require this token (nats-server --auth). */
  token?: string;
  /** The server's max_payload (default NATS's 1 MiB). */
  maxPayload?: number;
  /** A fixed port; default a free one. */
  port?: number;
  /** More server configuration (nats-server config syntax), e.g. users and their permissions. */
  config?: string;
}

/** How long a hook that finds or starts a Kafka broker may take: a first start downloads its jars. */
export const SERVER_TIMEOUT_MS = 240_000;

export const SERVER_ENV: Record<Bus, string> = {
  redis: 'RAFTBUS_REDIS_URL',
  nats: 'RAFTBUS_NATS_URL',
  kafka: 'RAFTBUS_KAFKA_BROKERS',
};

export const HOW_TO_PROVIDE: Record<Bus, string> = {
  redis:
    'set RAFTBUS_REDIS_URL=redis://host:port to a running Redis, or install redis-server ' +
    '(apt-get install -y redis-server; REDIS_SERVER names the binary if it is not on PATH) so the tests start their own',
  nats:
    'set RAFTBUS_NATS_URL=nats://host:port to a running NATS server, or install nats-server ' +
    '(apt-get install -y nats-server, or a release from https://github.com/nats-io/nats-server/releases; ' +
    'RAFTBUS_NATS_SERVER names the binary if it is not on PATH) so the tests start their own',
  kafka:
    'set RAFTBUS_KAFKA_BROKERS=host:port[,host:port...] to a running broker (scripts/kafka/start.sh starts one and prints it), ' +
    'or install Java 17 and Maven (apt-get install -y openjdk-17-jre-headless maven) so the tests start their own with scripts/kafka/start.sh',
};

/** Whether CI=true: then a missing service fails, never skips. */
export function isCI(): boolean {
  return process.env['CI'] === 'true';
}

/** The server the environment names for `bus` (RAFTBUS_REDIS_URL, ...), or undefined. */
export function serverFromEnv(bus: Bus): string | undefined {
  const value = process.env[SERVER_ENV[bus]]?.trim();
  return value ? value : undefined;
}

/**
 * Why there is no `bus` to test against (then the caller skips, with this
 * reason), or undefined when there is one. Throws when CI=true and there is
 * none. Starts nothing.
 */
export function whyNo(bus: Bus): string | undefined {
  if (serverFromEnv(bus) !== undefined) return undefined;
  const missing = privateServerUnavailable(bus);
  if (missing === undefined) return undefined;
  const reason = `no ${bus} to test against (${missing}): ${HOW_TO_PROVIDE[bus]}`;
  if (isCI()) throw new Error(`${reason}; CI=true forbids skipping these tests`);
  return reason;
}

/** Why startPrivate<bus>() cannot work on this machine, or undefined when it can. */
export function privateServerUnavailable(bus: Bus): string | undefined {
  switch (bus) {
    case 'redis':
      return redisServerBinary() === undefined ? 'no redis-server binary' : undefined;
    case 'nats':
      return natsServerBinary() === undefined ? 'no nats-server binary' : undefined;
    case 'kafka':
      return kafkaUnavailable();
  }
}

/** The server of `bus` to test against: the environment's, else one started now. Throws, saying how to provide one, when there is none. */
export async function findServer(bus: 'kafka'): Promise<KafkaHandle>;
export async function findServer(bus: Bus): Promise<ServerHandle>;
export async function findServer(bus: Bus): Promise<ServerHandle> {
  const url = serverFromEnv(bus);
  if (url !== undefined) {
    const handle: ServerHandle = { bus, url, origin: 'env', stop: async () => {} };
    return bus === 'kafka' ? ({ ...handle, brokers: brokerList(url) } as KafkaHandle) : handle;
  }
  const missing = privateServerUnavailable(bus);
  if (missing !== undefined) throw new Error(`${bus}: no server to test against (${missing}): ${HOW_TO_PROVIDE[bus]}`);
  return startPrivateServer(bus);
}

/** A private server of `bus` (startPrivateRedis/Nats/Kafka with their defaults); throws, saying how to provide one, when it cannot. */
export async function startPrivateServer(bus: 'kafka'): Promise<PrivateKafka>;
export async function startPrivateServer(bus: Bus): Promise<PrivateServer>;
export async function startPrivateServer(bus: Bus): Promise<PrivateServer> {
  const missing = privateServerUnavailable(bus);
  if (missing !== undefined) throw new Error(`${bus}: cannot start a private server (${missing}): ${HOW_TO_PROVIDE[bus]}`);
  switch (bus) {
    case 'redis':
      return startPrivateRedis();
    case 'nats':
      return startPrivateNats();
    case 'kafka':
      return startPrivateKafka();
  }
}

export const findRedis = (): Promise<ServerHandle> => findServer('redis');
export const findNats = (): Promise<ServerHandle> => findServer('nats');
export const findKafka = (): Promise<KafkaHandle> => findServer('kafka');

/** A Kafka broker list (comma-separated host:port) as an array. */
export function brokerList(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
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

/** A TCP port nothing listens on right now. */
export async function freePort(): Promise<number> {
  return (await freePorts(1))[0]!;
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

/** The redis-server binary (REDIS_SERVER names another), or undefined. */
export function redisServerBinary(): string | undefined {
  return findBinary('REDIS_SERVER', 'redis-server');
}

/** The nats-server binary (RAFTBUS_NATS_SERVER names another), or undefined. */
export function natsServerBinary(): string | undefined {
  return findBinary('RAFTBUS_NATS_SERVER', 'nats-server');
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

interface ChildSpec<O> {
  bus: 'redis' | 'nats';
  binary: string;
  args(port: number, dir: string, options: O): string[];
  /** Printed once the server accepts connections. */
  ready: string;
  url(port: number): string;
}

const REDIS: ChildSpec<readonly string[]> = {
  bus: 'redis',
  binary: 'redis-server',
  args: (port, dir, extra) => [
    '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no', ...extra,
  ],
  ready: 'Ready to accept connections',
  url: (port) => `redis://127.0.0.1:${port}`,
};

const NATS: ChildSpec<PrivateNatsOptions> = {
  bus: 'nats',
  binary: 'nats-server',
  args: (port, dir, options) => {
    const args = ['-a', '127.0.0.1', '-p', String(port)];
    if (options.token !== undefined) args.push('--auth', options.token);
    const config = [
      ...(options.maxPayload !== undefined ? [`max_payload: ${options.maxPayload}`] : []),
      ...(options.config !== undefined ? [options.config] : []),
    ];
    if (config.length > 0) {
      // max_payload has no flag: a config file, which the flags above override where they overlap.
      const file = join(dir, 'nats.conf');
      writeFileSync(file, `${config.join('\n')}\n`);
      args.push('-c', file);
    }
    return args;
  },
  ready: 'Server is ready',
  url: (port) => `nats://127.0.0.1:${port}`,
};

/**
 * Starts `redis-server` on a free port of 127.0.0.1, in a temp dir, without
 * persistence unless `args` asks for it (e.g. ['--appendonly', 'yes', '--dir', dir]);
 * resolves once it accepts connections.
 */
export function startPrivateRedis(args: readonly string[] = []): Promise<PrivateServer> {
  const binary = redisServerBinary();
  if (binary === undefined) throw new Error(`redis: cannot start a private server (no redis-server binary): ${HOW_TO_PROVIDE.redis}`);
  return ChildServer.start(REDIS, binary, args);
}

/** Starts `nats-server` on a free port (or options.port) of 127.0.0.1; resolves once it accepts connections. */
export function startPrivateNats(options: PrivateNatsOptions = {}): Promise<PrivateNats> {
  const binary = natsServerBinary();
  if (binary === undefined) throw new Error(`nats: cannot start a private server (no nats-server binary): ${HOW_TO_PROVIDE.nats}`);
  return ChildServer.start(NATS, binary, options, options.port);
}

/** A server run as a child process of the test, in a temp dir of its own. */
class ChildServer<O> implements PrivateServer {
  readonly origin = 'local';
  readonly bus: 'redis' | 'nats';
  readonly url: string;
  private child: ChildProcess | undefined;
  private readonly dir = mkdtempSync(join(tmpdir(), 'raftbus-server-'));
  private readonly onExit = () => {
    this.child?.kill('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  };

  private constructor(
    private readonly spec: ChildSpec<O>,
    private readonly binary: string,
    readonly port: number,
    private options: O,
  ) {
    this.bus = spec.bus;
    this.url = spec.url(port);
    atExit.add(this.onExit);
  }

  static async start<O>(spec: ChildSpec<O>, binary: string, options: O, fixedPort?: number): Promise<ChildServer<O>> {
    // Another process may take the free port before the server binds it: try a few.
    for (let attempt = 1; ; attempt++) {
      const server = new ChildServer(spec, binary, fixedPort ?? (await freePort()), options);
      try {
        await server.spawn();
        return server;
      } catch (e) {
        await server.stop();
        if (fixedPort !== undefined || attempt >= 5) throw e;
      }
    }
  }

  async restart(options: Partial<O> = {}): Promise<void> {
    await this.kill();
    if (typeof this.options === 'object' && !Array.isArray(this.options)) this.options = { ...this.options, ...options };
    // Just after kill() the port may still be held for a moment: retry for a while.
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        await this.spawn();
        return;
      } catch (e) {
        if (Date.now() > deadline) throw e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  async kill(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    await this.kill();
    atExit.delete(this.onExit);
    rmSync(this.dir, { recursive: true, force: true });
  }

  private spawn(): Promise<void> {
    const child = spawn(this.binary, this.spec.args(this.port, this.dir, this.options), { stdio: ['ignore', 'pipe', 'pipe'] });
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

// src/servers.ts and dist/servers.js are both three levels below the repository root.
const KAFKA_SCRIPTS = resolve(fileURLToPath(import.meta.url), '../../../../scripts/kafka');

function kafkaUnavailable(): string | undefined {
  const java = process.env['JAVA'] ?? 'java';
  if (spawnSync(java, ['-version'], { stdio: 'ignore' }).status !== 0) return `no ${java} on PATH to run the broker`;
  if (process.env['RAFTBUS_KAFKA_CACHE'] !== undefined && existsSync(join(process.env['RAFTBUS_KAFKA_CACHE'], 'libs'))) return undefined;
  const version = process.env['RAFTBUS_KAFKA_VERSION'] ?? '3.9.2';
  const cache = process.env['RAFTBUS_KAFKA_CACHE'] ?? join(homedir(), '.cache', 'raftbus', `kafka-${version}`);
  if (existsSync(join(cache, 'libs'))) return undefined;
  if (spawnSync('mvn', ['-v'], { stdio: 'ignore' }).status !== 0) return `no Kafka ${version} jars in ${cache} and no mvn on PATH to fetch them`;
  return undefined;
}

/** Starts a single-node KRaft broker with scripts/kafka/start.sh, on free ports, its config and data in a temp dir. */
export function startPrivateKafka(): Promise<PrivateKafka> {
  return ScriptKafka.start();
}

class ScriptKafka implements PrivateKafka {
  readonly bus = 'kafka';
  readonly origin = 'local';
  readonly url: string;
  readonly brokers: string[];
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
    readonly port: number,
    private readonly env: NodeJS.ProcessEnv,
  ) {
    this.url = `127.0.0.1:${port}`;
    this.brokers = [this.url];
    atExit.add(this.onExit);
  }

  static async start(): Promise<ScriptKafka> {
    const missing = kafkaUnavailable();
    if (missing !== undefined) throw new Error(`kafka: cannot start a private broker (${missing}): ${HOW_TO_PROVIDE.kafka}`);
    const [port, controllerPort] = await freePorts(2);
    const kafka = new ScriptKafka(port!, {
      ...process.env,
      RAFTBUS_KAFKA_PORT: String(port),
      RAFTBUS_KAFKA_CONTROLLER_PORT: String(controllerPort),
      RAFTBUS_KAFKA_DIR: mkdtempSync(join(tmpdir(), 'raftbus-kafka-')),
    });
    try {
      await kafka.restart();
    } catch (e) {
      await kafka.stop();
      throw e;
    }
    return kafka;
  }

  /** Starts the broker (again), with its data. */
  restart(): Promise<void> {
    return this.run('start.sh');
  }

  /** Stops the broker (scripts/kafka/stop.sh), keeping its data. */
  kill(): Promise<void> {
    return this.run('stop.sh');
  }

  /** Stops the broker and removes its directory. */
  async stop(): Promise<void> {
    await this.run('stop.sh', '--clean');
    atExit.delete(this.onExit);
  }

  private run(script: string, ...args: string[]): Promise<void> {
    return new Promise((ok, fail) => {
      execFile('bash', [join(KAFKA_SCRIPTS, script), ...args], { env: this.env, timeout: SERVER_TIMEOUT_MS - 10_000 }, (error, _stdout, stderr) => {
        if (error) fail(new Error(`scripts/kafka/${script} failed: ${error.message}\n${stderr}`));
        else ok();
      });
    });
  }
}
