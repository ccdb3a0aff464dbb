/**
 * Domain errors. Every failure that reaches a client carries a stable code from this list
 * and a message that names the field and the limit involved. api/status.ts is the only
 * place these become gRPC statuses (as etcd's rpctypes do); the SDK retries by code.
 */
export type ErrorCode =
  /** A request field is malformed or out of range (the message names the field). */
  | 'INVALID_ARGUMENT'
  /** Fewer replicas than required answered in time. */
  | 'QUORUM_UNAVAILABLE'
  /** A write would leave more siblings than the limit. */
  | 'TOO_MANY_SIBLINGS'
  /** The request's deadline passed. */
  | 'DEADLINE_EXCEEDED'
  /** The node is shutting down or not yet serving. */
  | 'NOT_SERVING'
  /** The disk is full: the write was not stored. */
  | 'STORAGE_FULL'
  /** Any other storage failure: the write was not acknowledged. */
  | 'STORAGE_ERROR'
  /** The feature is designed but not built yet. */
  | 'NOT_IMPLEMENTED'
  /** The request conflicts with the cluster's state (a topology change in progress, a peer
   * speaking another protocol version, a node that is not in the state the request needs). */
  | 'FAILED_PRECONDITION'
  /** A named node or operation does not exist. */
  | 'NOT_FOUND'
  /** A peer did not answer (connection refused, reset). */
  | 'PEER_UNAVAILABLE'
  /** A watcher fell too far behind reading its stream (it resumes with its token). */
  | 'WATCH_TOO_SLOW'
  /** A bug: an invariant did not hold. */
  | 'INTERNAL';

export class DkvError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Readonly<Record<string, string | number>> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'DkvError';
  }
}

export function invalidArgument(field: string, message: string, limit?: number): DkvError {
  const details: Record<string, string | number> = { field };
  if (limit !== undefined) details.limit = limit;
  return new DkvError('INVALID_ARGUMENT', `${field}: ${message}`, details);
}

export function isDkvError(e: unknown, code?: ErrorCode): e is DkvError {
  return e instanceof DkvError && (code === undefined || e.code === code);
}
