import { invalidArgument } from '../errors.js';

/**
 * ResumeToken is a watch's position: for each replica feeding it, the log incarnation and
 * the last sequence number processed, plus the versions delivered most recently (so a resumed
 * watch does not deliver again a version it got from one replica while another replica, whose
 * position is older, still has it ahead). Opaque to clients: bytes that must be passed back.
 */
export interface ResumeToken {
  positions: Record<string, [incarnation: number, seq: number]>;
  recent: string[];
}

/** RECENT_VERSIONS is how many recently delivered versions a token remembers. */
export const RECENT_VERSIONS = 2048;
const MAX_TOKEN_BYTES = 512 * 1024;

export function encodeToken(t: ResumeToken): Buffer {
  return Buffer.from(JSON.stringify({ v: 1, p: t.positions, r: t.recent.slice(-RECENT_VERSIONS) }), 'utf8');
}

export function decodeToken(b: Buffer): ResumeToken {
  const bad = (why: string) => invalidArgument('resume_token', `is not a token returned by dkv: ${why}`);
  if (b.length > MAX_TOKEN_BYTES) throw bad(`longer than ${MAX_TOKEN_BYTES} bytes`);
  let j: unknown;
  try {
    j = JSON.parse(b.toString('utf8'));
  } catch {
    throw bad('not parseable');
  }
  const o = j as { v?: unknown; p?: unknown; r?: unknown };
  if (o?.v !== 1 || typeof o.p !== 'object' || o.p === null || !Array.isArray(o.r)) throw bad('unknown format');
  const positions: ResumeToken['positions'] = {};
  for (const [node, pos] of Object.entries(o.p as Record<string, unknown>)) {
    if (!Array.isArray(pos) || pos.length !== 2 || !pos.every((x) => Number.isSafeInteger(x) && (x as number) >= 0)) throw bad(`bad position for ${node}`);
    positions[node] = [pos[0] as number, pos[1] as number];
  }
  if (!o.r.every((x) => typeof x === 'string' && x.length < 600)) throw bad('bad recent list');
  return { positions, recent: (o.r as string[]).slice(-RECENT_VERSIONS) };
}
