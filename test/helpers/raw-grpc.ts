import { Client, credentials, Metadata, status as Status, type ServiceError } from '@grpc/grpc-js';
import { assertTestTarget } from './target-guard.js';

/**
 * raw-grpc: send arbitrary bytes as the request payload of any gRPC method path, and get back
 * whatever the server answered (status, details, trailing metadata, raw response messages).
 * The serializers are the identity, so a test can send bytes no generated client would ever
 * produce (truncated varints, illegal tags, int64 values past 2^53, ...). Used by T16 (fuzz).
 */

/** RawResult is how one call ended. `code` is always set: a call always ends with a status. */
export interface RawResult {
  code: Status;
  details: string;
  /** messages are the raw response payloads (one for a successful unary call). */
  messages: Buffer[];
  /** metadata is the trailing metadata (dkv puts `dkv-error-code` there). */
  metadata: Metadata | undefined;
  /** ms is the wall time from sending to the status. */
  ms: number;
}

/** RawMethod describes one method as the generated service definitions do. */
export interface RawMethod {
  path: string;
  responseStream: boolean;
}

const identity = (b: Buffer): Buffer => b;

/** statusName turns a numeric status into its name ("INVALID_ARGUMENT"). */
export function statusName(code: number): string {
  return (Status as unknown as Record<number, string>)[code] ?? `CODE_${code}`;
}

/** RawGrpc is one channel to one node (loopback only, checked by assertTestTarget). */
export class RawGrpc {
  private readonly client: Client;

  constructor(readonly address: string) {
    this.client = new Client(assertTestTarget(address), credentials.createInsecure(), {
      'grpc.max_send_message_length': 64 * 1024 * 1024,
      'grpc.max_receive_message_length': 64 * 1024 * 1024,
    });
  }

  /** call dispatches on the method's shape: unary or server-streaming. */
  call(method: RawMethod, payload: Uint8Array, deadlineMs: number, maxMessages = 10_000): Promise<RawResult> {
    return method.responseStream ? this.serverStream(method.path, payload, deadlineMs, maxMessages) : this.unary(method.path, payload, deadlineMs);
  }

  /** unary sends payload as the single request message and waits for the status. */
  unary(path: string, payload: Uint8Array, deadlineMs: number): Promise<RawResult> {
    const started = Date.now();
    const buf = Buffer.from(payload);
    return new Promise<RawResult>((resolve) => {
      let metadata: Metadata | undefined;
      const call = this.client.makeUnaryRequest<Buffer, Buffer>(
        path,
        identity,
        identity,
        buf,
        new Metadata(),
        { deadline: new Date(started + deadlineMs) },
        (err: ServiceError | null, res?: Buffer) => {
          const ms = Date.now() - started;
          if (err) resolve({ code: err.code, details: err.details ?? err.message, messages: [], metadata: err.metadata ?? metadata, ms });
          else resolve({ code: Status.OK, details: '', messages: res ? [res] : [], metadata, ms });
        },
      );
      call.on('status', (s) => (metadata = s.metadata));
    });
  }

  /**
   * serverStream sends payload and reads the stream until its status (end or error) or until
   * the deadline; after maxMessages messages it cancels (a test never reads forever).
   */
  serverStream(path: string, payload: Uint8Array, deadlineMs: number, maxMessages = 10_000): Promise<RawResult> {
    const started = Date.now();
    return new Promise<RawResult>((resolve) => {
      const messages: Buffer[] = [];
      const stream = this.client.makeServerStreamRequest<Buffer, Buffer>(path, identity, identity, Buffer.from(payload), new Metadata(), {
        deadline: new Date(started + deadlineMs),
      });
      stream.on('data', (m: Buffer) => {
        messages.push(m);
        if (messages.length >= maxMessages) stream.cancel();
      });
      // 'error' always precedes 'status' for a non-OK end; the status carries everything.
      stream.on('error', () => undefined);
      stream.on('status', (s) => resolve({ code: s.code, details: s.details, messages, metadata: s.metadata, ms: Date.now() - started }));
    });
  }

  close(): void {
    this.client.close();
  }
}

/** dkvErrorCode reads the `dkv-error-code` trailer dkv attaches to its errors, if any. */
export function dkvErrorCode(r: RawResult): string | undefined {
  const v = r.metadata?.get('dkv-error-code')[0];
  return typeof v === 'string' ? v : undefined;
}
