/**
 * eventually polls fn until it returns without throwing (and, if it returns a boolean, true),
 * or fails after timeoutMs with the last error: tests wait for conditions, never fixed sleeps.
 */
export async function eventually<T>(fn: () => T | Promise<T>, opts: { timeoutMs?: number; intervalMs?: number; what?: string } = {}): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const intervalMs = opts.intervalMs ?? 50;
  const start = Date.now();
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== false) return v;
      last = new Error('condition was false');
    } catch (e) {
      last = e;
    }
    if (Date.now() - start > timeoutMs) {
      const msg = last instanceof Error ? last.message : String(last);
      throw new Error(`eventually${opts.what ? ` (${opts.what})` : ''}: not true after ${timeoutMs} ms: ${msg}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
