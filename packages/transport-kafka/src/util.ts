// Small helpers shared by the sender, the receiver and the transport.

/** How long a disconnect may take before stop() gives up on it. */
export const DISCONNECT_TIMEOUT_MS = 10_000;

/** `p`, or a rejection when it has not settled within DISCONNECT_TIMEOUT_MS. */
export function bounded(p: Promise<void>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${DISCONNECT_TIMEOUT_MS} ms`)), DISCONNECT_TIMEOUT_MS);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** Resolves when `p` settles or `ms` have passed, whichever is first; never rejects. */
export function within(ms: number, p: Promise<unknown>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  const settled = p.then(
    () => undefined,
    () => undefined,
  );
  return Promise.race([settled, timeout]).finally(() => clearTimeout(timer));
}

export function errorText(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}
