import { Metadata, status as Status, type ServiceError } from '@grpc/grpc-js';
import { DkvError, type ErrorCode } from '../errors.js';

/**
 * The one table from domain error codes to gRPC status codes (SPEC section 4). Details travel
 * in trailing metadata as `dkv-error-code` plus one `dkv-<detail>` entry per detail, so
 * generated clients in any language can branch on them without parsing the message.
 */
const TABLE: Readonly<Record<ErrorCode, Status>> = {
  INVALID_ARGUMENT: Status.INVALID_ARGUMENT,
  QUORUM_UNAVAILABLE: Status.UNAVAILABLE,
  TOO_MANY_SIBLINGS: Status.FAILED_PRECONDITION,
  DEADLINE_EXCEEDED: Status.DEADLINE_EXCEEDED,
  NOT_SERVING: Status.UNAVAILABLE,
  STORAGE_FULL: Status.RESOURCE_EXHAUSTED,
  STORAGE_ERROR: Status.INTERNAL,
  NOT_IMPLEMENTED: Status.UNIMPLEMENTED,
  FAILED_PRECONDITION: Status.FAILED_PRECONDITION,
  NOT_FOUND: Status.NOT_FOUND,
  PEER_UNAVAILABLE: Status.UNAVAILABLE,
  WATCH_TOO_SLOW: Status.RESOURCE_EXHAUSTED,
  INTERNAL: Status.INTERNAL,
};

export function grpcStatusOf(code: ErrorCode): Status {
  return TABLE[code];
}

/** toServiceError turns anything thrown by a handler into a gRPC error; unknown errors are INTERNAL. */
export function toServiceError(e: unknown): Partial<ServiceError> {
  const err = e instanceof DkvError ? e : asDkvError(e);
  const metadata = new Metadata();
  metadata.set('dkv-error-code', err.code);
  for (const [k, v] of Object.entries(err.details)) metadata.set(`dkv-${k.toLowerCase()}`, String(v));
  return { code: TABLE[err.code], details: err.message, message: err.message, metadata };
}

function asDkvError(e: unknown): DkvError {
  if (e instanceof DkvError) return e;
  // Malformed records or contexts from a peer or client are bad input, not a bug.
  const name = (e as Error)?.name;
  if (name === 'RecordCorruptError' || name === 'ContextError') return new DkvError('INVALID_ARGUMENT', `malformed input: ${(e as Error).message}`, {}, { cause: e });
  const msg = e instanceof Error ? e.message : String(e);
  return new DkvError('INTERNAL', `internal error: ${msg}`, {}, { cause: e });
}

/** fromServiceError maps a gRPC error received from a peer back to a domain error. */
export function fromServiceError(e: unknown): DkvError {
  const se = e as Partial<ServiceError>;
  if (typeof se?.code !== 'number') return asDkvError(e);
  const code = se.metadata?.get('dkv-error-code')[0];
  if (typeof code === 'string' && code in TABLE) return new DkvError(code as ErrorCode, se.details ?? se.message ?? '');
  switch (se.code) {
    case Status.DEADLINE_EXCEEDED:
      return new DkvError('DEADLINE_EXCEEDED', se.details ?? 'deadline exceeded');
    case Status.UNAVAILABLE:
    case Status.CANCELLED:
      return new DkvError('PEER_UNAVAILABLE', se.details ?? 'peer unavailable');
    case Status.INVALID_ARGUMENT:
      return new DkvError('INVALID_ARGUMENT', se.details ?? 'invalid argument');
    case Status.UNIMPLEMENTED:
      return new DkvError('NOT_IMPLEMENTED', se.details ?? 'not implemented');
    case Status.FAILED_PRECONDITION:
      return new DkvError('FAILED_PRECONDITION', se.details ?? 'failed precondition');
    default:
      return new DkvError('INTERNAL', se.details ?? se.message ?? 'peer error');
  }
}
