import type { Clock } from '../time/clock.js';
import type { PreferenceEntry } from '../ring/preference-list.js';

export interface Reply<T> {
  entry: PreferenceEntry;
  value: T;
}
export interface Failure {
  entry: PreferenceEntry;
  error: Error;
}

export interface Gathered<T> {
  ok: Reply<T>[];
  failed: Failure[];
  /** met says whether `needed` countable replies arrived before the deadline. */
  met: boolean;
  /** ended says why gathering stopped: the quorum was met, became impossible, or the deadline passed. */
  ended: 'met' | 'impossible' | 'deadline';
  /** timedOut lists the entries that had not answered when gathering stopped. */
  pending: PreferenceEntry[];
  /** settled resolves with every reply once all calls finish (late replies included). */
  settled: Promise<{ ok: Reply<T>[]; failed: Failure[] }>;
}

/**
 * gather runs one call per replica in parallel and resolves as soon as `needed` of the
 * replies that `counts` accepts have succeeded, as soon as that can no longer happen, or at
 * the deadline (a monotonic time), whichever comes first. Calls keep running afterwards;
 * `settled` sees them all (read repair of late repliers uses it).
 */
export function gather<T>(
  entries: readonly PreferenceEntry[],
  call: (e: PreferenceEntry) => Promise<T>,
  needed: number,
  counts: (e: PreferenceEntry) => boolean,
  deadline: number,
  clock: Clock,
): Promise<Gathered<T>> {
  const ok: Reply<T>[] = [];
  const failed: Failure[] = [];
  const done = new Set<PreferenceEntry>();
  let countable = entries.filter(counts).length;
  let good = 0;
  let finish!: (how: Gathered<T>['ended']) => void;
  const decided = new Promise<Gathered<T>['ended']>((resolve) => (finish = resolve));
  const check = () => {
    if (good >= needed) finish('met');
    else if (countable < needed) finish('impossible');
  };
  const all = entries.map(async (entry) => {
    try {
      const value = await call(entry);
      ok.push({ entry, value });
      if (counts(entry)) good++;
    } catch (e) {
      failed.push({ entry, error: e instanceof Error ? e : new Error(String(e)) });
      if (counts(entry)) countable--;
    } finally {
      done.add(entry);
      check();
    }
  });
  check();
  const timer = clock.setTimeout(() => finish('deadline'), Math.max(0, deadline - clock.monotonic()));
  const settled = Promise.all(all).then(() => ({ ok, failed }));
  return decided.then((ended) => {
    timer.cancel();
    return { ok: [...ok], failed: [...failed], met: ended === 'met', ended, pending: entries.filter((e) => !done.has(e)), settled };
  });
}
