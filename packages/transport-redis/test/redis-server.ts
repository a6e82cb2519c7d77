// Finds a Redis for tests: RAFTBUS_REDIS_URL if set (CI sets it), else a
// redis-server child process on a free port if the binary is installed;
// else the tests fail loudly in CI and are skipped on a developer machine.
//
//   const noRedis = whyNoRedis();            // at collection: starts nothing
//   describe.skipIf(noRedis !== undefined)(`… ${noRedis ?? ''}`, () => {
//     let redis: RedisService;
//     beforeAll(async () => { redis = await findRedis(); });
//     afterAll(() => redis?.stop());
//   });
//
// Servers start in beforeAll, never at import: a run that filters every
// test out (vitest -t) runs no hooks, and would leave a server behind.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';

export const HOW_TO_PROVIDE_REDIS =
  'set RAFTBUS_REDIS_URL=redis://host:port, or install redis-server (apt-get install -y redis-server) so tests can start their own';

export interface RedisService {
  url: string;
  /** The child process behind the URL, when the tests started it. */
  local?: LocalRedis;
  stop(): Promise<void>;
}

/**
 * Why there is no Redis to test against (then the caller skips), or
 * undefined when there is one. Throws, in CI, when there is none. Starts nothing.
 */
export function whyNoRedis(): string | undefined {
  if (process.env.RAFTBUS_REDIS_URL || hasRedisServer()) return undefined;
  const reason = `no Redis to test against: ${HOW_TO_PROVIDE_REDIS}`;
  if (process.env.CI === 'true') throw new Error(reason);
  return reason;
}

/** The Redis to test against: RAFTBUS_REDIS_URL, or a redis-server child started now. Stop it when done. */
export async function findRedis(): Promise<RedisService> {
  const url = process.env.RAFTBUS_REDIS_URL;
  if (url) return { url, stop: async () => {} };
  const why = whyNoRedis();
  if (why !== undefined) throw new Error(why);
  const local = await startRedisServer();
  return { url: local.url, local, stop: () => local.stop() };
}

let binaryFound: boolean | undefined;

/** Whether a redis-server binary is on the PATH (REDIS_SERVER names another). */
export function hasRedisServer(): boolean {
  binaryFound ??= spawnSync(redisServerBinary(), ['--version'], { stdio: 'ignore' }).status === 0;
  return binaryFound;
}

function redisServerBinary(): string {
  return process.env.REDIS_SERVER ?? 'redis-server';
}

/** A redis-server child process that tests may kill and start again, on the same port. */
export interface LocalRedis {
  readonly port: number;
  readonly url: string;
  /** Kills the server (SIGKILL, as a crash would) and waits for it to exit. */
  kill(): Promise<void>;
  /** Starts it again on the same port, with the same arguments. */
  start(): Promise<void>;
  /** Kills it; idempotent. */
  stop(): Promise<void>;
}

const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/**
 * Starts `redis-server` on a free port of 127.0.0.1, without persistence
 * unless `args` asks for it (e.g. ['--appendonly', 'yes', '--dir', dir]);
 * resolves once it accepts connections.
 */
export async function startRedisServer(args: readonly string[] = []): Promise<LocalRedis> {
  const port = await freePort();
  let child: ChildProcess | undefined;

  async function start(): Promise<void> {
    const argv = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', ...args];
    const proc = spawn(redisServerBinary(), argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(proc);
    proc.once('exit', () => children.delete(proc));
    child = proc;
    let log = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`redis-server did not start within 10 s:\n${log}`)), 10_000);
      const onData = (data: Buffer) => {
        log += data.toString();
        if (log.includes('Ready to accept connections')) done();
      };
      const onExit = (code: number | null) => fail(new Error(`redis-server exited (${code}) before it was ready:\n${log}`));
      function done(): void {
        cleanup();
        resolve();
      }
      function fail(error: Error): void {
        cleanup();
        proc.kill('SIGKILL');
        reject(error);
      }
      function cleanup(): void {
        clearTimeout(timer);
        proc.stdout!.off('data', onData);
        proc.stderr!.off('data', onData);
        proc.off('exit', onExit);
      }
      proc.stdout!.on('data', onData);
      proc.stderr!.on('data', onData);
      proc.once('exit', onExit);
    });
    // Keep draining its output so the pipe never fills and blocks it.
    proc.stdout!.resume();
    proc.stderr!.resume();
  }

  async function kill(): Promise<void> {
    const proc = child;
    child = undefined;
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = once(proc, 'exit');
    proc.kill('SIGKILL');
    await exited;
  }

  await start();
  return { port, url: `redis://127.0.0.1:${port}`, kill, start, stop: kill };
}

/** A port nothing listens on now (the OS picks it). */
async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('no TCP port');
  return address.port;
}

/** Deletes the keys of the given raft clusters (raftbus:{<id>}:*), so tests leave a shared Redis as they found it. */
export async function deleteClusterKeys(url: string, clusterIds: Iterable<string>): Promise<void> {
  const admin = new Redis(url);
  try {
    for (const id of clusterIds) {
      let cursor = '0';
      do {
        const [next, keys] = await admin.scan(cursor, 'MATCH', `raftbus:{${id}}:*`, 'COUNT', 1000);
        if (keys.length > 0) await admin.del(...keys);
        cursor = next;
      } while (cursor !== '0');
    }
  } finally {
    admin.disconnect();
  }
}
