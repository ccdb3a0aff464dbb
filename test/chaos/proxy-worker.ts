/**
 * A small userspace TCP proxy for link delay and loss (TESTING.md T15; `tc netem` does not
 * exist here). It runs inside a node's namespace, listens on the address the node ADVERTISES
 * to its peers and forwards to the address the node listens on, so every internode connection
 * to that node passes through it while the test's client worker dials the node directly.
 * Running inside the node's namespace keeps partitions exact: a peer's packets still arrive
 * from the peer's own address, so the iptables rules of netns.ts see them as before.
 *
 *   node --import tsx test/chaos/proxy-worker.ts --listen IP:PORT --target IP:PORT
 *
 * Control on stdin, one JSON object per line: {"delayMs": 75, "jitterMs": 50, "loss": 0.5}.
 * Prints {"ready": true} once listening and {"ok": true, ...} after each control line.
 *
 * Delay: each chunk read from one side is written to the other after delayMs ± jitterMs
 * (uniform), never before the chunk ahead of it (TCP delivers in order). Loss: a byte stream
 * cannot lose bytes, so loss is modelled as TCP experiences it: each chunk is "lost" with
 * probability `loss` and retransmitted after an RTO of 200 ms doubling per consecutive loss
 * (at most 6 losses), all behind it waiting (head-of-line blocking).
 */
import { createServer, connect, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { listen: { type: 'string' }, target: { type: 'string' } } });
const split = (a: string) => {
  const i = a.lastIndexOf(':');
  return { host: a.slice(0, i), port: Number(a.slice(i + 1)) };
};
if (!values.listen || !values.target) {
  process.stderr.write('usage: proxy-worker --listen IP:PORT --target IP:PORT\n');
  process.exit(2);
}
const listen = split(values.listen);
const target = split(values.target);
// The target is the node in this very namespace: never anything else.
if (target.host !== listen.host) {
  process.stderr.write(`proxy-worker: target ${values.target} is not this namespace's address ${listen.host}\n`);
  process.exit(2);
}

let delayMs = 0;
let jitterMs = 0;
let loss = 0;
const RTO_MS = 200;
const MAX_LOSSES = 6;

function extraDelay(): number {
  let d = delayMs + (jitterMs > 0 ? (Math.random() * 2 - 1) * jitterMs : 0);
  let rto = RTO_MS;
  for (let i = 0; i < MAX_LOSSES && loss > 0 && Math.random() < loss; i++) {
    d += rto;
    rto *= 2;
  }
  return Math.max(0, d);
}

/**
 * pipe copies from -> to through a delay line: a FIFO of (due time, chunk) drained by one
 * timer at a time, so chunks always leave in the order they arrived.
 */
function pipe(from: Socket, to: Socket): void {
  const queue: { due: number; chunk: Buffer }[] = [];
  let lastDue = 0;
  let timer: NodeJS.Timeout | undefined;
  let ended = false;
  const drain = () => {
    timer = undefined;
    const now = Date.now();
    while (queue.length > 0 && queue[0].due <= now) {
      const { chunk } = queue.shift()!;
      if (!to.destroyed) to.write(chunk);
    }
    if (queue.length > 0) timer = setTimeout(drain, Math.max(1, queue[0].due - now));
    else if (ended) to.end();
  };
  from.on('data', (chunk: Buffer) => {
    const d = extraDelay();
    if (d === 0 && queue.length === 0) {
      to.write(chunk);
      return;
    }
    lastDue = Math.max(Date.now() + d, lastDue);
    queue.push({ due: lastDue, chunk });
    if (!timer) timer = setTimeout(drain, Math.max(1, lastDue - Date.now()));
  });
  from.on('end', () => {
    ended = true;
    if (queue.length === 0) to.end();
  });
  from.on('close', () => {
    if (timer) clearTimeout(timer);
  });
}

const server = createServer({ noDelay: true }, (down) => {
  const up = connect({ host: target.host, port: target.port, noDelay: true });
  const kill = () => {
    down.destroy();
    up.destroy();
  };
  down.on('error', kill);
  up.on('error', kill);
  down.on('close', () => up.destroy());
  up.on('close', () => down.destroy());
  pipe(down, up);
  pipe(up, down);
});
server.on('error', (e) => {
  process.stderr.write(`proxy-worker: ${e.message}\n`);
  process.exit(1);
});
server.listen(listen.port, listen.host, () => process.stdout.write(JSON.stringify({ ready: true, pid: process.pid }) + '\n'));

createInterface({ input: process.stdin }).on('line', (line) => {
  try {
    const c = JSON.parse(line) as { delayMs?: number; jitterMs?: number; loss?: number };
    delayMs = Math.max(0, Number(c.delayMs ?? 0));
    jitterMs = Math.max(0, Math.min(delayMs, Number(c.jitterMs ?? 0)));
    loss = Math.max(0, Math.min(0.95, Number(c.loss ?? 0)));
    process.stdout.write(JSON.stringify({ ok: true, delayMs, jitterMs, loss }) + '\n');
  } catch (e) {
    process.stdout.write(JSON.stringify({ ok: false, error: (e as Error).message }) + '\n');
  }
});
process.stdin.on('end', () => process.exit(0));
