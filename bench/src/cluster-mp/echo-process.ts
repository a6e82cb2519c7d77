// The echo of a raw round trip in a process of its own (remote-echo.ts):
// argv is the bus, its server's address and the link's namespace; inbox 2
// of that link sends back to inbox 1 whatever reaches it. "ready" on the IPC
// channel once it listens; it closes and exits when the parent disconnects.
import { NatsLink } from '../baselines/nats-link.js';
import { RedisLink } from '../baselines/redis-link.js';
import { localEcho } from '../baselines/measure.js';

const [bus, url, namespace] = process.argv.slice(2) as [string, string, string];
const link = bus === 'nats' ? new NatsLink(url, namespace) : new RedisLink(url, namespace);
const echo = await localEcho(link)();
process.send!('ready');
process.on('disconnect', () => {
  void echo
    .close()
    .then(() => link.close())
    .finally(() => process.exit(0));
});
