// A raw round trip whose echo runs in another process, as every hop of a
// cluster of node processes crosses processes: a process's wake-up per hop
// is part of both. On this 2-core VM it measured 1.3-2.3x the in-process
// echo (NATS ~0.15-0.23 ms against ~0.10).
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { BusLink } from '../baselines/bus-link.js';
import type { Echo } from '../baselines/measure.js';
import type { NetworkBus } from './protocol.js';

/** The compiled child entry, as node-handle.ts finds node-process.js. */
const ENTRY = fileURLToPath(new URL('../../dist/cluster-mp/echo-process.js', import.meta.url));

/** What the notes call a round trip measured so. */
export const ECHO_IN_ANOTHER_PROCESS = 'echo in another process';

/** How long the echo process may take to listen. */
const READY_TIMEOUT_MS = 30_000;

/** The echo of `link`'s inbox 2 on `bus` at `url`, in a process of its own. */
export function remoteEcho(bus: NetworkBus, url: string, link: BusLink): Echo {
  const namespace = link.namespace;
  if (namespace === undefined) throw new Error(`a ${link.bus} link has no namespace another process can reach`);
  return () =>
    new Promise((resolve, reject) => {
      const child = fork(ENTRY, [bus, url, namespace], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] });
      const exited = new Promise<void>((done) => child.once('exit', () => done()));
      const timer = setTimeout(() => fail(new Error(`the ${bus} echo process did not start within ${READY_TIMEOUT_MS / 1000} s`)), READY_TIMEOUT_MS);
      const fail = (e: Error): void => {
        clearTimeout(timer);
        child.kill();
        reject(e);
      };
      child.once('exit', (code, signal) => fail(new Error(`the ${bus} echo process exited (${signal ?? `code ${code}`})`)));
      child.once('message', () => {
        clearTimeout(timer);
        resolve({
          close: async () => {
            if (child.connected) child.disconnect();
            await exited;
          },
        });
      });
    });
}
