/**
 * redis.ts — a minimal RESP2 client for the load generator (bench only).
 *
 * Contracts:
 * - One TCP connection (node:net, TCP_NODELAY) carries at most one request at a time:
 *   pipelining is off. RedisPool keeps one connection per outstanding request slot, so `conc`
 *   requests in flight use `conc` connections, like a pooled synchronous client.
 * - Commands are sent as RESP arrays of bulk strings (binary safe); replies understood:
 *   simple string, error, integer, bulk string (also nil). A reply that arrives in several
 *   chunks is reassembled.
 * - Every request carries a deadline: when it passes, the connection is destroyed (its late
 *   reply can no longer be matched) and the callback gets DEADLINE_EXCEEDED; the slot opens a
 *   fresh connection for its next request.
 * - The target passes assertTestTarget before any connection.
 */
import { connect, type Socket } from 'node:net';
import { assertTestTarget } from '../../test/helpers/target-guard.js';

export type RedisReply = string | number | Buffer | null;
export type RedisCallback = (err: Error | null, reply?: RedisReply) => void;

const CRLF = Buffer.from('\r\n');

/** encodeCommand builds `*N\r\n$len\r\narg\r\n...` as one buffer. */
export function encodeCommand(args: (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = typeof a === 'string' ? Buffer.from(a) : a;
    parts.push(Buffer.from(`$${b.length}\r\n`), b, CRLF);
  }
  return Buffer.concat(parts);
}

/**
 * parseReply parses one complete reply at the start of buf: [reply, bytes used], or
 * undefined when buf does not hold a whole reply yet. An error reply becomes an Error.
 */
export function parseReply(buf: Buffer): [RedisReply | Error, number] | undefined {
  const eol = buf.indexOf(CRLF);
  if (eol < 0) return undefined;
  const line = buf.toString('latin1', 1, eol);
  switch (buf[0]) {
    case 0x2b: // +
      return [line, eol + 2];
    case 0x2d: // -
      return [new Error(`redis: ${line}`), eol + 2];
    case 0x3a: // :
      return [Number(line), eol + 2];
    case 0x24: {
      // $
      const n = Number(line);
      if (n < 0) return [null, eol + 2];
      const end = eol + 2 + n;
      if (buf.length < end + 2) return undefined;
      return [buf.subarray(eol + 2, end), end + 2];
    }
    default:
      return [new Error(`redis: unexpected reply type ${JSON.stringify(String.fromCharCode(buf[0]))}`), buf.length];
  }
}

export class DeadlineError extends Error {
  readonly code = 'DEADLINE_EXCEEDED';
}

/** RedisConn is one connection with at most one request outstanding. */
class RedisConn {
  private sock: Socket | undefined;
  private pending: { cb: RedisCallback; timer: NodeJS.Timeout } | undefined;
  private buf: Buffer = Buffer.alloc(0);
  private opened: Promise<void> | undefined;

  constructor(private readonly host: string, private readonly port: number) {}

  open(): Promise<void> {
    if (this.opened) return this.opened;
    const sock = connect({ host: this.host, port: this.port, noDelay: true });
    this.sock = sock;
    this.buf = Buffer.alloc(0);
    sock.on('data', (chunk: Buffer) => this.onData(chunk));
    const lost = (e?: Error) => {
      if (this.sock === sock) {
        this.sock = undefined;
        this.opened = undefined;
      }
      this.fail(e ?? new Error('redis: connection closed'));
    };
    sock.on('error', lost);
    sock.on('close', () => lost());
    this.opened = new Promise((res, rej) => {
      sock.once('connect', () => res());
      sock.once('error', rej);
    });
    this.opened.catch(() => {});
    return this.opened;
  }

  private fail(e: Error): void {
    const p = this.pending;
    if (!p) return;
    this.pending = undefined;
    clearTimeout(p.timer);
    p.cb(e);
  }

  private onData(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const got = parseReply(this.buf);
    if (!got) return;
    const [reply, used] = got;
    this.buf = this.buf.subarray(used);
    const p = this.pending;
    if (!p) return;
    this.pending = undefined;
    clearTimeout(p.timer);
    if (reply instanceof Error) p.cb(reply);
    else p.cb(null, reply);
  }

  send(cmd: Buffer, deadline: number, cb: RedisCallback): void {
    const timer = setTimeout(() => {
      this.sock?.destroy();
      this.sock = undefined;
      this.opened = undefined;
      this.fail(new DeadlineError('redis: deadline exceeded'));
    }, Math.max(0, deadline - Date.now()));
    this.pending = { cb, timer };
    if (this.sock && !this.sock.connecting) {
      this.sock.write(cmd);
      return;
    }
    this.open().then(
      () => this.sock?.write(cmd),
      (e: Error) => this.fail(e),
    );
  }

  close(): void {
    this.sock?.end();
    this.sock = undefined;
  }
}

/** RedisPool hands each request a free connection, opening one when none is free. */
export class RedisPool {
  private readonly host: string;
  private readonly port: number;
  private readonly free: RedisConn[] = [];
  private readonly all: RedisConn[] = [];

  constructor(target: string) {
    assertTestTarget(target);
    const i = target.lastIndexOf(':');
    this.host = target.slice(0, i).replace(/^\[|\]$/g, '');
    this.port = Number(target.slice(i + 1));
  }

  /** open makes n connections ahead of the measurement (one per request slot). */
  async open(n: number): Promise<void> {
    const made = Array.from({ length: n }, () => new RedisConn(this.host, this.port));
    await Promise.all(made.map((c) => c.open()));
    this.all.push(...made);
    this.free.push(...made);
  }

  command(args: (string | Buffer)[], deadline: number, cb: RedisCallback): void {
    let c = this.free.pop();
    if (!c) {
      c = new RedisConn(this.host, this.port);
      this.all.push(c);
    }
    const conn = c;
    conn.send(encodeCommand(args), deadline, (e, r) => {
      this.free.push(conn);
      cb(e, r);
    });
  }

  close(): void {
    for (const c of this.all) c.close();
    this.all.length = 0;
    this.free.length = 0;
  }
}
