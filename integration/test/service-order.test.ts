// The order services.ts finds servers in, checked against a fake Docker
// engine (no engine runs on CI machines): the environment's URL first and
// the engine untouched; else testcontainers asks the engine for the pinned
// image of the bus; an engine that cannot serve fails loudly, naming it.
import { createServer, type Server } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SERVER_ENV } from '@raftbus/testkit';
import { CONTAINER_IMAGES } from './containers.js';

/** Answers the two calls testcontainers makes before it creates anything; refuses the rest. */
class FakeEngine {
  readonly requests: string[] = [];
  private server: Server | undefined;

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        this.requests.push(`${req.method} ${req.url}`);
        const path = new URL(req.url ?? '/', 'http://engine').pathname.replace(/^\/v[0-9.]+/, '');
        res.setHeader('content-type', 'application/json');
        if (path === '/info') {
          res.end(JSON.stringify({ ServerVersion: '28.2.2', OperatingSystem: 'fake engine', OSType: 'linux', Architecture: 'x86_64', Labels: [] }));
          return;
        }
        res.statusCode = 500;
        res.end(JSON.stringify({ message: 'fake engine: no images here' }));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    return `tcp://127.0.0.1:${address.port}`;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

const saved = new Map<string, string | undefined>();
function setEnv(name: string, value: string | undefined): void {
  if (!saved.has(name)) saved.set(name, process.env[name]);
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}

describe('services are found in order: environment, testcontainers, local', () => {
  const engine = new FakeEngine();
  let services: typeof import('./services.js');

  beforeAll(async () => {
    setEnv('DOCKER_HOST', await engine.start());
    // Ryuk (testcontainers' reaper) would be the first container asked for.
    setEnv('TESTCONTAINERS_RYUK_DISABLED', 'true');
    services = await import('./services.js');
  });
  afterEach(() => {
    engine.requests.length = 0;
  });
  afterAll(async () => {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    await engine.stop();
  });

  it('detects the engine named by DOCKER_HOST', async () => {
    expect(await services.reachableDocker()).toBe(`DOCKER_HOST=${process.env['DOCKER_HOST']}`);
  });

  it('takes the URL from the environment without asking the engine', async () => {
    setEnv(SERVER_ENV.redis, 'redis://127.0.0.1:1');
    const service = await services.findService('redis');
    expect(service).toMatchObject({ bus: 'redis', url: 'redis://127.0.0.1:1', origin: 'env' });
    expect(engine.requests).toEqual([]);
  });

  it.each(['redis', 'nats', 'kafka'] as const)('without an environment URL, asks the engine for %s\'s pinned image', async (bus) => {
    setEnv(SERVER_ENV[bus], undefined);
    const failure = services.findService(bus);
    await expect(failure).rejects.toThrow(/Docker engine is reachable.*testcontainers.*fake engine: no images here/s);
    await expect(failure).rejects.toThrow(CONTAINER_IMAGES[bus]);
    expect(engine.requests).toContain(`GET /images/${CONTAINER_IMAGES[bus]}/json`);
  });
});
