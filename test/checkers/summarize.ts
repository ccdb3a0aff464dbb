/**
 * summarize turns the results of several checkers into a one-screen text (for a failing test's
 * message or a chaos run's log) and a JSON-able object (for reports). Only the first few
 * violations of each check are shown; the JSON keeps their messages, the counts are exact.
 */
import type { CheckResult } from './history.js';

export interface SummaryCheck {
  ok: boolean;
  violations: number;
  stats: object;
  /** firstViolations: the messages of the first `maxViolations` violations. */
  firstViolations: string[];
}

export interface SummaryJson {
  ok: boolean;
  failed: string[];
  checks: Record<string, SummaryCheck>;
}

export interface SummaryOptions {
  /** title: the first line's label; default 'dkv history check'. */
  title?: string;
  /** maxViolations: violations shown per check; default 5. */
  maxViolations?: number;
}

const fmtStat = (v: unknown): string =>
  typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(3) : v === null ? '-' : String(v);

export function summarize(
  results: Readonly<Record<string, CheckResult<object>>>,
  opts: SummaryOptions = {},
): { ok: boolean; text: string; json: SummaryJson } {
  const max = opts.maxViolations ?? 5;
  const names = Object.keys(results);
  const failed = names.filter((n) => !results[n].ok);
  const width = Math.max(0, ...names.map((n) => n.length));
  const lines = [
    `${opts.title ?? 'dkv history check'}: ${failed.length === 0 ? 'PASS' : `FAIL (${failed.length} of ${names.length} checks failed: ${failed.join(', ')})`}`,
  ];
  const checks: Record<string, SummaryCheck> = {};
  for (const name of names) {
    const r = results[name];
    const stats = Object.entries(r.stats as Record<string, unknown>)
      .map(([k, v]) => `${k}=${fmtStat(v)}`)
      .join(' ');
    const count = r.violations.length > 0 ? `${r.violations.length} violation${r.violations.length === 1 ? '' : 's'}; ` : '';
    lines.push(`  ${r.ok ? 'PASS' : 'FAIL'} ${name.padEnd(width)}  ${count}${stats}`.trimEnd());
    const first = r.violations.slice(0, max).map((v) => v.message);
    for (const m of first) lines.push(`       - ${m}`);
    if (r.violations.length > max) lines.push(`       ... and ${r.violations.length - max} more`);
    checks[name] = { ok: r.ok, violations: r.violations.length, stats: { ...r.stats }, firstViolations: first };
  }
  return { ok: failed.length === 0, text: lines.join('\n'), json: { ok: failed.length === 0, failed, checks } };
}
