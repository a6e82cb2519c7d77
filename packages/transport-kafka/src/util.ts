// Small helpers shared by the sender, the receiver and the transport.

/** How long a disconnect may take before stop() gives up on it. */
export const DISCONNECT_TIMEOUT_MS = 10_000;

/** `p`, or a rejection when it has not settled within `ms` (DISCONNECT_TIMEOUT_MS unless given). */
export function bounded(p: Promise<void>, ms = DISCONNECT_TIMEOUT_MS): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export function errorText(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}
