// The CLI's --transport and --url become the matching transport (nothing
// connects until the node starts; the integration tests run real buses).
import { KafkaTransport } from '@raftbus/transport-kafka';
import { MemoryTransport } from '@raftbus/transport-memory';
import { NatsTransport } from '@raftbus/transport-nats';
import { RedisTransport } from '@raftbus/transport-redis';
import { describe, expect, it } from 'vitest';
import { parseCommandLine, type BusConfig } from '../src/cli.js';
import { createTransport } from '../src/launch.js';

function busOf(...flags: string[]): BusConfig {
  const cmd = parseCommandLine(['--id', '1', '--peers', '1=http://127.0.0.1:7001,2=http://127.0.0.1:7002', '--data-dir', 'd', ...flags]);
  if (cmd.kind !== 'run') throw new Error('not a run command');
  return cmd.config.bus;
}

describe('createTransport', () => {
  it('builds the transport --transport names, on the bus --url names', () => {
    expect(createTransport(busOf('--transport', 'redis', '--url', 'redis://127.0.0.1:6379'))).toBeInstanceOf(RedisTransport);
    expect(createTransport(busOf('--transport', 'nats', '--url', 'nats://127.0.0.1:4222'))).toBeInstanceOf(NatsTransport);
    expect(createTransport(busOf('--transport', 'kafka', '--url', '127.0.0.1:9092'))).toBeInstanceOf(KafkaTransport);
    expect(createTransport({ transport: 'memory' })).toBeInstanceOf(MemoryTransport);
  });

  it('gives every node a transport of its own', () => {
    const bus = busOf('--transport', 'nats', '--url', 'nats://127.0.0.1:4222');
    expect(createTransport(bus)).not.toBe(createTransport(bus));
  });
});
