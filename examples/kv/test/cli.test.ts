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

  it('says the bus transports are not yet available', () => {
    for (const t of ['redis', 'nats', 'kafka']) {
      const msg = usageError(['--id', '1', '--peers', THREE, '--data-dir', 'd', '--transport', t, '--url', 'x://bus']);
      expect(msg).toMatch(/not yet available: comes with the bus adapters/);
    }
    expect(usageError([...ONE, '--transport', 'carrier-pigeon'])).toMatch(/--transport must be one of memory, redis, nats, kafka/);
  });

  it('limits --transport memory to a 1-node cluster without a bus URL', () => {
    expect(usageError(['--id', '1', '--peers', THREE, '--data-dir', 'd'])).toMatch(/must list this node alone.*pnpm demo/);
    expect(usageError([...ONE, '--url', 'redis://localhost'])).toMatch(/--url/);
  });
});
