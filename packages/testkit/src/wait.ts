// Bounded waiting. Every wait in the suites ends, with an error naming what
// did not happen, so a broken adapter fails a test instead of hanging it.

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls `cond` until it holds, and throws if it does not within `timeoutMs`.
 * `what` names the condition in the error.
 */
export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 5_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() >= deadline) throw new Error(`waitFor: ${what} did not hold within ${timeoutMs} ms`);
    await sleep(Math.min(10, Math.max(1, deadline - Date.now())));
  }
}
