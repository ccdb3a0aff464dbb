import { isIP } from 'node:net';

/**
 * assertTestTarget refuses any address a test, benchmark or load generator may not send
 * traffic to (TESTING.md): only loopback (127.0.0.0/8, localhost, ::1) and addresses a test
 * assigned itself inside its own network namespaces (passed in `allowed`). It throws before
 * anything is sent, so a mistyped or empty argument can never become traffic to another host.
 */
export function assertTestTarget(address: string, allowed: ReadonlySet<string> = new Set()): string {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(address ?? '');
  if (!m) throw new Error(`refusing test traffic to ${JSON.stringify(address)}: not HOST:PORT`);
  const host = (m[1] ?? m[2]).toLowerCase();
  const port = Number(m[3]);
  if (port < 1 || port > 65535) throw new Error(`refusing test traffic to ${address}: bad port`);
  if (host === 'localhost' || host === '::1') return address;
  if (isIP(host) === 4 && host.startsWith('127.')) return address;
  if (allowed.has(host)) return address;
  throw new Error(`refusing test traffic to ${address}: only loopback or addresses assigned by the test inside its own network namespaces are allowed`);
}
