import { invalidArgument } from '../errors.js';
import { ConsistencyLevel, type Consistency } from '../generated/dkv/v1/kv.js';
import type { ConsistencyRequest } from '../coordinator/quorum.js';
import { decodeContext } from '../storage/record-codec.js';
import type { VersionVector } from '../versioning/dvv.js';

/** Limits are the request limits a node enforces (SPEC section 2); each error names its flag. */
export interface Limits {
  maxKeyBytes: number;
  maxValueBytes: number;
}

/** MAX_TTL_MS bounds ttl_ms to 100 years so expiry stays a safe integer. */
export const MAX_TTL_MS = 100 * 365 * 24 * 3600 * 1000;

export function validateKey(key: Buffer | undefined, limits: Limits, field = 'key'): Buffer {
  if (!key || key.length === 0) throw invalidArgument(field, 'must not be empty');
  if (key.length > limits.maxKeyBytes)
    throw invalidArgument(field, `is ${key.length} bytes, over the limit of ${limits.maxKeyBytes} bytes (--max-key-bytes)`, limits.maxKeyBytes);
  return key;
}

export function validateValue(key: Buffer, value: Buffer | undefined, limits: Limits): Buffer {
  const v = value ?? Buffer.alloc(0);
  const total = key.length + v.length;
  if (total > limits.maxValueBytes)
    throw invalidArgument(
      'value',
      `key + value is ${total} bytes, over the limit of ${limits.maxValueBytes} bytes (${formatBytes(limits.maxValueBytes)}, --max-value-bytes)`,
      limits.maxValueBytes,
    );
  return v;
}

export function validateTtl(ttlMs: number | undefined): number {
  const t = ttlMs ?? 0;
  if (!Number.isSafeInteger(t) || t < 0) throw invalidArgument('ttl_ms', `must be 0 (no expiry) or a positive number of milliseconds, got ${t}`);
  if (t > MAX_TTL_MS) throw invalidArgument('ttl_ms', `is over the limit of ${MAX_TTL_MS} ms (100 years)`, MAX_TTL_MS);
  return t;
}

export function validateContext(ctx: Buffer | undefined): VersionVector {
  if (!ctx || ctx.length === 0) return new Map();
  try {
    return decodeContext(ctx);
  } catch (e) {
    throw invalidArgument('context', `is not a context returned by dkv: ${(e as Error).message}`);
  }
}

export function validateConsistency(c: Consistency | undefined): ConsistencyRequest {
  if (!c) return { strict: false };
  let level: ConsistencyRequest['level'];
  switch (c.level) {
    case ConsistencyLevel.CONSISTENCY_LEVEL_UNSPECIFIED:
    case undefined:
      level = undefined;
      break;
    case ConsistencyLevel.CONSISTENCY_LEVEL_ONE:
      level = 'one';
      break;
    case ConsistencyLevel.CONSISTENCY_LEVEL_QUORUM:
      level = 'quorum';
      break;
    case ConsistencyLevel.CONSISTENCY_LEVEL_ALL:
      level = 'all';
      break;
    default:
      throw invalidArgument('consistency.level', `unknown level ${String(c.level)}`);
  }
  return { level, r: c.r || undefined, w: c.w || undefined, strict: !!c.strict };
}

export function formatBytes(n: number): string {
  if (n >= 1024 * 1024 && n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} B`;
}
