// The raw-bus measurements, the same on every bus:
//
// - round trip: inbox 1 sends a frame to inbox 2, which sends it straight
//   back; one at a time, so each sample is one publish-and-back.
// - one-way: inbox 1 sends frames to inbox 2 as fast as the bus takes
//   them, in bursts (as a raft Ready hands the transport a batch), keeping
//   at most `window` frames unreceived so memory stays bounded; the rate is
//   frames received per second of sending.
import { performance } from 'node:perf_hooks';
import type { BusLink } from './bus-link.js';

export interface RoundTripOptions {
  payloadBytes: number;
  durationMs: number;
  /** Round trips done first and not counted (connections, JIT); the duration starts after them. */
  warmup: number;
  /** Stop early after this many samples (at least 10 are always taken). */
  maxSamples: number;
  /** A round trip that takes longer than this fails the measurement. */
  timeoutMs?: number;
}

export interface OneWayOptions {
  payloadBytes: number;
  durationMs: number;
  /** Most frames sent and not yet received. Default 1000. */
  window?: number;
  /** Frames sent in one synchronous burst before yielding. Default 64. */
  burst?: number;
  /** How long to wait for the last frames after sending stops. Default 10 s. */
  drainMs?: number;
}

export interface OneWayResult {
  /** Frames received per second, from the first send to the last frame received. */
  perSecond: number;
  received: number;
  /** Sends that failed or frames that never arrived. */
  lost: number;
  seconds: number;
}

function payload(bytes: number): Uint8Array {
  const b = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) b[i] = (i * 31 + 7) & 0xff;
  return b;
}

/** Round trips measured however long they take. */
const MIN_ROUND_TRIPS = 10;

const yieldTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Inbox 2 sending back to inbox 1 whatever reaches it, until closed. */
export type Echo = () => Promise<{ close(): Promise<void> }>;

/** The echo in this process, on `link`. */
export function localEcho(link: BusLink): Echo {
  return async () => {
    const b = await link.endpoint(2, (f) => void Promise.resolve(b.send(1, f)).catch(() => undefined));
    return b;
  };
}

/** Round-trip times in ms, one per sample; the echo runs in this process unless `echo` puts it elsewhere. */
export async function roundTrips(link: BusLink, o: RoundTripOptions, echo: Echo = localEcho(link)): Promise<number[]> {
  const frame = payload(o.payloadBytes);
  const timeoutMs = o.timeoutMs ?? 10_000;
  let arrived: (() => void) | undefined;
  const a = await link.endpoint(1, () => arrived?.());
  const b = await echo().catch(async (e: unknown) => {
    await a.close();
    throw e;
  });
  const roundTrip = async (): Promise<number> => {
    const back = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${link.bus}: no echo within ${timeoutMs} ms`)), timeoutMs);
      arrived = () => {
        clearTimeout(timer);
        arrived = undefined;
        resolve();
      };
    });
    const t0 = performance.now();
    void Promise.resolve(a.send(2, frame)).catch(() => undefined);
    await back;
    return performance.now() - t0;
  };
  try {
    for (let i = 0; i < o.warmup; i++) await roundTrip();
    const samples: number[] = [];
    // The clock starts after the warm-up; a slow bus still gets a few samples.
    const deadline = performance.now() + o.durationMs;
    while (samples.length < o.maxSamples && (samples.length < MIN_ROUND_TRIPS || performance.now() < deadline)) {
      samples.push(await roundTrip());
    }
    return samples;
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
}

export async function oneWay(link: BusLink, o: OneWayOptions): Promise<OneWayResult> {
  const frame = payload(o.payloadBytes);
  const window = o.window ?? 1000;
  const burst = o.burst ?? 64;
  let received = 0;
  let failed = 0;
  let lastArrival = 0;
  let wake: (() => void) | undefined;
  const receiver = await link.endpoint(2, () => {
    received++;
    lastArrival = performance.now();
    wake?.();
  });
  const sender = await link.endpoint(1, () => undefined);
  const onFailure = (): void => {
    failed++;
    wake?.();
  };
  const waitForProgress = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        wake = undefined;
        resolve();
      }
      wake = done;
    });
  try {
    let sent = 0;
    const start = performance.now();
    const stopAt = start + o.durationMs;
    while (performance.now() < stopAt) {
      const room = window - (sent - received - failed);
      if (room <= 0) {
        await waitForProgress(stopAt - performance.now());
        continue;
      }
      for (let i = Math.min(room, burst); i > 0; i--) {
        const p = sender.send(2, frame);
        if (p !== undefined) p.catch(onFailure);
      }
      sent += Math.min(room, burst);
      await yieldTurn();
    }
    const drainUntil = performance.now() + (o.drainMs ?? 10_000);
    while (received + failed < sent && performance.now() < drainUntil) await waitForProgress(drainUntil - performance.now());
    const seconds = ((received > 0 ? lastArrival : performance.now()) - start) / 1000;
    return { perSecond: received / seconds, received, lost: sent - received, seconds };
  } finally {
    await Promise.all([sender.close(), receiver.close()]);
  }
}
