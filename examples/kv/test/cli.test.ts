import { describe, expect, it } from 'vitest';
import { parseCommandLine, USAGE, UsageError } from '../src/cli.js';

const ONE = ['--id', '1', '--peers', '1=http://127.0.0.1:7001', '--data-dir', './data/1'];
const THREE = '1=http://127.0.0.1:7001,2=http://127.0.0.1:7002,3=http://127.0.0.1:7003';

function usageError(argv: string[]): string {
  try {
    parseCommandLine(argv);
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return (e as Error).message;
  }
  throw new Error(`accepted: ${argv.join(' ')}`);
}

describe('raftbus-kv flags', () => {
  it('parses a 1-node memory cluster, listening on its own peer URL by default', () => {
    expect(parseCommandLine(ONE)).toEqual({
      kind: 'run',
      config: {
        id: 1,
        peers: new Map([[1, 'http://127.0.0.1:7001']]),
        dataDir: './data/1',
        http: { host: '127.0.0.1', port: 7001 },
        clusterId: 'raftbus-kv',
        bus: { transport: 'memory' },
      },
    });
  });

  it('takes --transport memory and --http explicitly', () => {
    const cmd = parseCommandLine([...ONE, '--transport', 'memory', '--http', '0.0.0.0:8080']);
    expect(cmd).toMatchObject({ kind: 'run', config: { http: { host: '0.0.0.0', port: 8080 } } });
    expect(parseCommandLine([...ONE, '--http', '[::1]:7001'])).toMatchObject({ config: { http: { host: '::1', port: 7001 } } });
  });

  it('answers --help and -h, even among other flags', () => {
    expect(parseCommandLine(['--help'])).toEqual({ kind: 'help' });
    expect(parseCommandLine(['-h', '--id', 'x'])).toEqual({ kind: 'help' });
    expect(USAGE).toMatch(/1-node cluster/);
    expect(USAGE).toMatch(/pnpm demo/);
  });

  it('requires --id, --peers and --data-dir', () => {
    expect(usageError([])).toMatch(/--id is required/);
    expect(usageError(['--id', '1', '--data-dir', 'd'])).toMatch(/--peers is required/);
    expect(usageError(['--id', '1', '--peers', '1=http://h:1'])).toMatch(/--data-dir is required/);
  });

  it('refuses unknown flags, positionals and flags without values', () => {
    expect(usageError([...ONE, '--verbose'])).toMatch(/verbose/);
    expect(usageError([...ONE, 'extra'])).toMatch(/extra/);
    expect(usageError(['--id'])).toMatch(/--id/);
  });

  it('checks ids and peers', () => {
    for (const bad of ['0', '-1', '1.5', 'one', '9007199254740993']) {
      expect(usageError([`--id=${bad}`, '--peers', '1=http://h:1', '--data-dir', 'd'])).toMatch(/--id must be a positive integer/);
    }
    const peers = (list: string): string => usageError(['--id', '1', '--peers', list, '--data-dir', 'd']);
    expect(peers('1')).toMatch(/not id=url/);
    expect(peers('1=http://h:1,1=http://h:2')).toMatch(/node 1 is listed twice/);
    expect(peers('1=ftp://h:1')).toMatch(/must be http:\/\/host:port/);
    expect(peers('1=not a url')).toMatch(/must be http:\/\/host:port/);
    expect(peers('x=http://h:1')).toMatch(/an id must be a positive integer/);
    expect(peers('2=http://h:2')).toMatch(/--id 1 is not one of --peers/);
  });

  it('checks --http', () => {
    for (const bad of ['7001', 'host:', 'host:0', 'host:70000', ':7001']) {
      expect(usageError([...ONE, '--http', bad])).toMatch(/--http must be host:port/);
    }
  });

  it('joins a 3-node cluster over redis, nats or kafka with --url', () => {
    const three = ['--id', '2', '--peers', THREE, '--data-dir', 'd'];
    expect(parseCommandLine([...three, '--transport', 'redis', '--url', 'redis://127.0.0.1:6379'])).toEqual({
      kind: 'run',
      config: {
        id: 2,
        peers: new Map([
          [1, 'http://127.0.0.1:7001'],
          [2, 'http://127.0.0.1:7002'],
          [3, 'http://127.0.0.1:7003'],
        ]),
        dataDir: 'd',
        http: { host: '127.0.0.1', port: 7002 },
        clusterId: 'raftbus-kv',
        bus: { transport: 'redis', url: 'redis://127.0.0.1:6379' },
      },
    });
    const bus = (...flags: string[]) => {
      const cmd = parseCommandLine([...three, ...flags]);
      return cmd.kind === 'run' ? cmd.config.bus : undefined;
    };
    expect(bus('--transport', 'redis', '--url', 'rediss://user:secret@redis.example:6380/2')).toEqual({
      transport: 'redis',
      url: 'rediss://user:secret@redis.example:6380/2',
    });
    expect(bus('--transport', 'nats', '--url', 'nats://127.0.0.1:4222')).toEqual({ transport: 'nats', servers: ['nats://127.0.0.1:4222'] });
    expect(bus('--transport', 'nats', '--url', 'nats://a:4222, tls://b:4443,c:4222')).toEqual({
      transport: 'nats',
      servers: ['nats://a:4222', 'tls://b:4443', 'c:4222'],
    });
    expect(bus('--transport', 'kafka', '--url', '127.0.0.1:9092')).toEqual({ transport: 'kafka', brokers: ['127.0.0.1:9092'] });
    expect(bus('--transport=kafka', '--url=k1:9092,k2:9092,[::1]:9094')).toEqual({
      transport: 'kafka',
      brokers: ['k1:9092', 'k2:9092', '[::1]:9094'],
    });
  });

  it('names the cluster with --cluster (default raftbus-kv), never empty', () => {
    const redis = ['--id', '1', '--peers', THREE, '--data-dir', 'd', '--transport', 'redis', '--url', 'redis://h:6379'];
    expect(parseCommandLine([...redis, '--cluster', 'orders'])).toMatchObject({ config: { clusterId: 'orders' } });
    expect(parseCommandLine([...ONE, '--cluster', 'solo'])).toMatchObject({ config: { clusterId: 'solo', bus: { transport: 'memory' } } });
    expect(usageError([...redis, '--cluster', ''])).toMatch(/--cluster must not be empty/);
    expect(USAGE).toMatch(/--cluster <name>/);
  });

  it('requires --url for redis, nats and kafka, and checks its form', () => {
    for (const t of ['redis', 'nats', 'kafka']) {
      expect(usageError(['--id', '1', '--peers', THREE, '--data-dir', 'd', '--transport', t])).toMatch(
        new RegExp(`--transport ${t} needs --url`),
      );
    }
    const url = (t: string, u: string): string => usageError(['--id', '1', '--peers', THREE, '--data-dir', 'd', '--transport', t, '--url', u]);
    for (const bad of ['127.0.0.1:6379', 'http://127.0.0.1:6379', 'not a url', 'redis://']) {
      expect(url('redis', bad)).toMatch(/--url for redis must be redis:\/\//);
    }
    for (const bad of ['http://h:4222', 'h', 'nats://a:4222,,nats://b:4222', 'h:0']) {
      expect(url('nats', bad)).toMatch(/--url for nats: /);
    }
    for (const bad of ['kafka://h:9092', 'h', 'h:9092,', 'h:99999', 'h:x']) {
      expect(url('kafka', bad)).toMatch(/--url for kafka: .* host:port|--url for kafka: an empty entry/);
    }
  });

  it('refuses an unknown transport', () => {
    expect(usageError([...ONE, '--transport', 'carrier-pigeon'])).toMatch(/--transport must be one of memory, redis, nats, kafka/);
  });

  it('limits --transport memory to a 1-node cluster without a bus URL', () => {
    expect(usageError(['--id', '1', '--peers', THREE, '--data-dir', 'd'])).toMatch(/must list this node alone.*--transport redis, nats or kafka.*pnpm demo/);
    expect(usageError([...ONE, '--url', 'redis://localhost'])).toMatch(/--url/);
  });
});
