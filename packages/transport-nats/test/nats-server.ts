// Where the tests find NATS, in this order:
//  1. RAFTBUS_NATS_URL (CI sets it): a server someone else runs.
//  2. A nats-server binary on this machine: each test file starts its own,
//     on a free port, as a child process, and kills it at the end.
//  3. Neither: under CI the tests fail, saying how to provide NATS; on a
//     developer machine they are skipped, saying why.
// Tests that must control the server (auth, restarts, max_payload) need the
// binary even when RAFTBUS_NATS_URL is set; without it they are skipped.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

const HOW_TO_PROVIDE =
  'set RAFTBUS_NATS_URL (e.g. nats://127.0.0.1:4222) to a running NATS server, ' +
  'or install nats-server (apt-get install nats-server, or a release from https://github.com/nats-io/nats-server/releases) ' +
  'so the tests can start one; RAFTBUS_NATS_SERVER names the binary if it is not on PATH';

export type NatsProvision =
  | { kind: 'url'; url: string }
  | { kind: 'binary'; binary: string }
  | { kind: 'none'; reason: string };

function isCI(): boolean {
  const ci = process.env.CI;
  return ci !== undefined && ci !== '' && ci !== 'false' && ci !== '0';
}

/** The nats-server binary: RAFTBUS_NATS_SERVER, else on PATH (plus the sbin directories Debian installs it to). */
export function natsServerBinary(): string | undefined {
  const named = process.env.RAFTBUS_NATS_SERVER;
  const candidates =
    named !== undefined && named !== ''
      ? [named]
      : [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/usr/local/bin']
          .filter((dir) => dir !== '')
          .map((dir) => join(dir, 'nats-server'));
  for (const path of candidates) {
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * How this run reaches NATS. Throws under CI when there is no way, so a CI
 * that lost its NATS fails instead of passing with everything skipped.
 */
export function natsProvision(): NatsProvision {
  const url = process.env.RAFTBUS_NATS_URL;
  if (url !== undefined && url !== '') return { kind: 'url', url };
  const binary = natsServerBinary();
  if (binary !== undefined) return { kind: 'binary', binary };
  if (isCI()) throw new Error(`transport-nats tests need NATS and CI=${process.env.CI} forbids skipping them: ${HOW_TO_PROVIDE}`);
  const reason = `no NATS server: ${HOW_TO_PROVIDE}`;
  // A skip is easy to miss in a summary line; say why where it is seen.
  console.warn(`transport-nats tests skipped: ${reason}`);
  return { kind: 'none', reason };
}

/**
 * Why tests that control the server cannot run here, or undefined when
 * they can. Under CI they are skipped too (the shared server of
 * RAFTBUS_NATS_URL is tested by the rest), with this reason.
 */
export function localServerUnavailable(): string | undefined {
  return natsServerBinary() === undefined ? `needs the nats-server binary to start and restart its own server: ${HOW_TO_PROVIDE}` : undefined;
}

export interface LocalNatsServerOptions {
  /** Require this token (nats-server --auth). */
  token?: string;
  /** The server's max_payload (default NATS's 1 MiB). */
  maxPayload?: number;
  /** A fixed port; default a free one. */
  port?: number;
  /** More server configuration (nats-server config syntax), e.g. users and their permissions. */
  config?: string;
}

/** A nats-server child process on 127.0.0.1, for one test file. */
export class LocalNatsServer {
  private child: ChildProcess | undefined;
  private readonly dir = mkdtempSync(join(tmpdir(), 'raftbus-nats-'));
  private readonly killOnExit = () => this.child?.kill('SIGKILL');

  private constructor(
    private readonly binary: string,
    readonly port: number,
    private options: LocalNatsServerOptions,
  ) {
    // Should the test runner die first, the server must not outlive it.
    process.once('exit', this.killOnExit);
  }

  static async start(options: LocalNatsServerOptions = {}): Promise<LocalNatsServer> {
    const binary = natsServerBinary();
    if (binary === undefined) throw new Error(`cannot start nats-server: ${HOW_TO_PROVIDE}`);
    // A free port can be taken between our probe and the server's bind: try a few.
    for (let attempt = 1; ; attempt++) {
      const server = new LocalNatsServer(binary, options.port ?? (await freePort()), options);
      try {
        await server.spawn();
        return server;
      } catch (e) {
        await server.stop();
        if (options.port !== undefined || attempt >= 5) throw e;
      }
    }
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  /** Kills the server at once (SIGKILL: no lame duck, clients see the connection drop). */
  async kill(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await exited;
  }

  /** Starts the server again on the same port, optionally with other options (a new max_payload, say). */
  async restart(options: Partial<LocalNatsServerOptions> = {}): Promise<void> {
    await this.kill();
    this.options = { ...this.options, ...options };
    // The port was just released; the bind may need a moment.
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        await this.spawn();
        return;
      } catch (e) {
        if (Date.now() > deadline) throw e;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }

  async stop(): Promise<void> {
    await this.kill();
    process.removeListener('exit', this.killOnExit);
    rmSync(this.dir, { recursive: true, force: true });
  }

  private spawn(): Promise<void> {
    const args = ['-a', '127.0.0.1', '-p', String(this.port)];
    if (this.options.token !== undefined) args.push('--auth', this.options.token);
    const config = [
      ...(this.options.maxPayload !== undefined ? [`max_payload: ${this.options.maxPayload}`] : []),
      ...(this.options.config !== undefined ? [this.options.config] : []),
    ];
    if (config.length > 0) {
      // max_payload has no flag: a config file, which the flags above override where they overlap.
      const file = join(this.dir, 'nats.conf');
      writeFileSync(file, `${config.join('\n')}\n`);
      args.push('-c', file);
    }
    const child = spawn(this.binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    return new Promise<void>((resolve, reject) => {
      let log = '';
      const fail = (why: string) => {
        clearTimeout(timer);
        child.kill('SIGKILL');
        reject(new Error(`nats-server on port ${this.port} did not start (${why}):\n${log}`));
      };
      const timer = setTimeout(() => fail('not ready within 10 s'), 10_000);
      child.on('error', (e) => fail(e.message));
      child.once('exit', (code, signal) => fail(`exited with ${code ?? signal}`));
      child.stderr!.setEncoding('utf8');
      child.stderr!.on('data', (chunk: string) => {
        log += chunk;
        if (log.includes('Server is ready')) {
          clearTimeout(timer);
          child.removeAllListeners('exit');
          child.stderr!.removeAllListeners('data');
          child.stderr!.resume(); // keep draining, or a chatty server would block on a full pipe
          resolve();
        }
      });
    });
  }
}

/** A TCP port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

/**
 * The server the tests of one file share: RAFTBUS_NATS_URL's, or a local
 * one started here (stop() kills it; for a URL it does nothing).
 */
export interface SharedNats {
  url: string;
  stop(): Promise<void>;
}

export async function sharedNats(provision: NatsProvision): Promise<SharedNats> {
  switch (provision.kind) {
    case 'url':
      return { url: provision.url, stop: async () => {} };
    case 'binary': {
      const server = await LocalNatsServer.start();
      return { url: server.url, stop: () => server.stop() };
    }
    case 'none':
      throw new Error(provision.reason);
  }
}
