import { describe, expect, it } from 'vitest';
import { status as Status } from '@grpc/grpc-js';
import { DkvError, type ErrorCode } from '../../../src/errors.js';
import { fromServiceError, grpcStatusOf, toServiceError } from '../../../src/api/status.js';
import { validateConsistency, validateContext, validateKey, validateTtl, validateValue } from '../../../src/api/validate.js';

const limits = { maxKeyBytes: 1024, maxValueBytes: 10 * 1024 };

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a throw');
}

describe('the error table (SPEC section 4)', () => {
  const table: Array<[ErrorCode, Status]> = [
    ['INVALID_ARGUMENT', Status.INVALID_ARGUMENT],
    ['QUORUM_UNAVAILABLE', Status.UNAVAILABLE],
    ['TOO_MANY_SIBLINGS', Status.FAILED_PRECONDITION],
    ['DEADLINE_EXCEEDED', Status.DEADLINE_EXCEEDED],
    ['NOT_SERVING', Status.UNAVAILABLE],
    ['STORAGE_FULL', Status.RESOURCE_EXHAUSTED],
    ['STORAGE_ERROR', Status.INTERNAL],
    ['NOT_IMPLEMENTED', Status.UNIMPLEMENTED],
    ['FAILED_PRECONDITION', Status.FAILED_PRECONDITION],
    ['NOT_FOUND', Status.NOT_FOUND],
    ['PEER_UNAVAILABLE', Status.UNAVAILABLE],
    ['WATCH_TOO_SLOW', Status.RESOURCE_EXHAUSTED],
    ['INTERNAL', Status.INTERNAL],
  ];

  it.each(table)('%s becomes gRPC %s and round-trips through trailing metadata', (code, grpc) => {
    expect(grpcStatusOf(code)).toBe(grpc);
    const se = toServiceError(new DkvError(code, 'why', { limit: 5 }));
    expect(se.code).toBe(grpc);
    expect(se.metadata!.get('dkv-error-code')).toEqual([code]);
    expect(se.metadata!.get('dkv-limit')).toEqual(['5']);
    expect(fromServiceError(se).code).toBe(code);
  });

  it('anything unexpected is INTERNAL, never a crash', () => {
    expect(toServiceError(new TypeError('boom')).code).toBe(Status.INTERNAL);
    expect(toServiceError('a string').code).toBe(Status.INTERNAL);
  });
});

describe('request limits name the field and the limit', () => {
  it('keys', () => {
    expect(thrown(() => validateKey(Buffer.alloc(0), limits)).message).toBe('key: must not be empty');
    expect(thrown(() => validateKey(undefined, limits)).message).toBe('key: must not be empty');
    expect(thrown(() => validateKey(Buffer.alloc(1025), limits)).message).toMatch(/key: is 1025 bytes, over the limit of 1024 bytes \(--max-key-bytes\)/);
    expect(validateKey(Buffer.alloc(1024), limits).length).toBe(1024);
  });

  it('values: key + value up to the limit pass, one byte more fails', () => {
    const key = Buffer.alloc(24);
    expect(validateValue(key, Buffer.alloc(10 * 1024 - 24), limits).length).toBe(10 * 1024 - 24);
    const e = thrown(() => validateValue(key, Buffer.alloc(10 * 1024 - 23), limits));
    expect(e.message).toMatch(/value: key \+ value is 10241 bytes, over the limit of 10240 bytes \(10 KiB, --max-value-bytes\)/);
  });

  it('ttl, context and consistency', () => {
    expect(validateTtl(undefined)).toBe(0);
    expect(thrown(() => validateTtl(-1)).message).toMatch(/^ttl_ms:/);
    expect(thrown(() => validateTtl(Number.MAX_SAFE_INTEGER)).message).toMatch(/^ttl_ms: is over the limit/);
    expect(validateContext(Buffer.alloc(0)).size).toBe(0);
    expect(thrown(() => validateContext(Buffer.from([0xff, 0xff, 0xff]))).message).toMatch(/^context: is not a context returned by dkv/);
    expect(thrown(() => validateConsistency({ level: 42 as never, r: 0, w: 0, strict: false })).message).toMatch(/^consistency.level: unknown level 42/);
    expect(validateConsistency({ level: 2, r: 0, w: 3, strict: true })).toEqual({ level: 'quorum', r: undefined, w: 3, strict: true });
  });
});
