import { parseArgs, type ParseArgsConfig } from 'node:util';

/** CliError is a usage or input error: printed to stderr, exit code 2. */
export class CliError extends Error {}

export type Options = NonNullable<ParseArgsConfig['options']>;

/** parse wraps node:util parseArgs with errors that say which flag is wrong. */
export function parse(argv: string[], options: Options): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  try {
    const r = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    return { values: r.values as Record<string, string | boolean | undefined>, positionals: r.positionals };
  } catch (e) {
    throw new CliError((e as Error).message);
  }
}

/** duration parses "500ms", "10s", "5m", "2h", "1d"; a plain number is seconds. Returns ms. */
export function duration(s: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(s.trim());
  if (!m) throw new CliError(`${flag}: expected a duration like 500ms, 10s, 5m, 2h or 1d, got ${JSON.stringify(s)}`);
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] ?? 's']!;
  return Math.round(Number(m[1]) * unit);
}

/** bytes parses "10KiB", "4MiB", "1024"; returns bytes. */
export function bytes(s: string, flag: string): number {
  const m = /^(\d+)(B|KiB|MiB|GiB|K|M|G)?$/i.exec(s.trim());
  if (!m) throw new CliError(`${flag}: expected a size like 10KiB, 4MiB or 1024, got ${JSON.stringify(s)}`);
  const u = (m[2] ?? 'B').toLowerCase();
  const mult = u.startsWith('k') ? 1024 : u.startsWith('m') ? 1024 ** 2 : u.startsWith('g') ? 1024 ** 3 : 1;
  return Number(m[1]) * mult;
}

export function int(s: string | undefined, flag: string): number | undefined {
  if (s === undefined) return undefined;
  if (!/^\d+$/.test(s)) throw new CliError(`${flag}: expected a whole number, got ${JSON.stringify(s)}`);
  return Number(s);
}
