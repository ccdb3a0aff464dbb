/**
 * checkConvergence: after the load stops and faults heal, every replica of a key holds the same
 * versions (TESTING.md T1: within 5 s; T2: within 30 s of the final heal).
 *
 * Input is a dump per replica: key -> list of version identifiers (dots, write ids or digests;
 * compared as sorted sets, so order does not matter). Without `replicasOf`, a key is compared
 * across the replicas whose dump holds it. With `replicasOf(key)`, a replica that should hold
 * the key and has no entry for it counts as holding nothing, so a missed replica is reported.
 * The measured time to converge, when given, is passed through to stats (never asserted here).
 */
import type { CheckResult, Violation } from './history.js';

export type ReplicaDump = ReadonlyMap<string, readonly string[]> | Readonly<Record<string, readonly string[]>>;
export type ReplicaDumps = ReadonlyMap<string, ReplicaDump> | Readonly<Record<string, ReplicaDump>>;

export interface ConvergenceOptions {
  /** timeToConverge: measured time from the end of load (or the final heal) to agreement, any unit. */
  timeToConverge?: number;
  /** replicasOf: the replicas that should hold a key; default the replicas whose dump has it. */
  replicasOf?: (key: string) => readonly string[];
}

export interface ConvergenceStats {
  replicas: number;
  keys: number;
  divergentKeys: number;
  timeToConverge: number | null;
}

const toMap = <V>(m: ReadonlyMap<string, V> | Readonly<Record<string, V>>): Map<string, V> =>
  m instanceof Map ? new Map(m) : new Map(Object.entries(m as Record<string, V>));

const MAX_SHOWN = 6;
const show = (vs: readonly string[]): string =>
  `[${vs.slice(0, MAX_SHOWN).join(', ')}${vs.length > MAX_SHOWN ? `, ... ${vs.length - MAX_SHOWN} more` : ''}]`;

export function checkConvergence(replicaDumps: ReplicaDumps, opts: ConvergenceOptions = {}): CheckResult<ConvergenceStats> {
  const dumps = new Map([...toMap(replicaDumps)].map(([r, d]) => [r, toMap(d)] as const));
  const holders = new Map<string, string[]>();
  for (const [replica, dump] of dumps)
    for (const key of dump.keys()) {
      let list = holders.get(key);
      if (!list) holders.set(key, (list = []));
      list.push(replica);
    }
  const violations: Violation[] = [];
  for (const key of [...holders.keys()].sort()) {
    const replicas = opts.replicasOf ? [...opts.replicasOf(key)] : holders.get(key)!;
    const byVersion = new Map<string, string[]>();
    const versions = new Map<string, string[]>();
    for (const r of replicas) {
      const vs = [...(dumps.get(r)?.get(key) ?? [])].sort();
      const sig = JSON.stringify(vs);
      versions.set(sig, vs);
      const group = byVersion.get(sig) ?? [];
      group.push(dumps.get(r)?.has(key) ? r : `${r} (missing)`);
      byVersion.set(sig, group);
    }
    if (byVersion.size <= 1) continue;
    const parts = [...byVersion].map(([sig, rs]) => `${rs.join(',')}=${show(versions.get(sig)!)}`);
    violations.push({
      checker: 'convergence',
      kind: 'divergent',
      key,
      message: `key ${JSON.stringify(key)} diverges across ${replicas.length} replicas: ${parts.join('  ')}`,
    });
  }
  return {
    ok: violations.length === 0,
    violations,
    stats: {
      replicas: dumps.size,
      keys: holders.size,
      divergentKeys: violations.length,
      timeToConverge: opts.timeToConverge ?? null,
    },
  };
}
