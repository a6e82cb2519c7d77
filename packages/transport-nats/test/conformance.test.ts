import { connect } from '@nats-io/transport-node';
import { findNats, transportConformance, whyNo, type ServerHandle } from '@raftbus/testkit';
import { afterAll, beforeAll, describe } from 'vitest';
import { NatsTransport } from '../src/index.js';

const skipped = whyNo('nats');

describe.skipIf(skipped !== undefined)(skipped === undefined ? 'NATS' : `NATS (skipped: ${skipped})`, () => {
  let nats: ServerHandle;
  beforeAll(async () => {
    nats = await findNats();
  });
  afterAll(() => nats?.stop());

  transportConformance('NatsTransport, a client per node', async () => ({
    transport: () => new NatsTransport({ servers: nats.url }),
  }));

  transportConformance('NatsTransport, nodes sharing one connection, with HMAC', async () => {
    const connection = await connect({ servers: nats.url });
    return {
      transport: () => new NatsTransport({ connection, key: 'conformance secret' }),
      cleanup: () => connection.close(),
    };
  });
});
