#!/usr/bin/env node
// npm start: runs a local dkv cluster on 127.0.0.1 (3 nodes on ports 7001-7003 by default,
// data under ./data/<node>), shows every node's log prefixed with its name, and stops all
// nodes cleanly (SIGTERM, LevelDB closed) on Ctrl-C. Nodes join one at a time, each through
// the first node as its seed.
//   npm start -- --nodes 5 --base-port 7001 --data ./data [-- extra dkv serve flags]
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const cli = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
if (!existsSync(cli)) {
  console.error('dkv is not built: run "npm run build" first (npm ci does it)');
  process.exit(2);
}
const { values, positionals } = parseArgs({
  options: { nodes: { type: 'string', default: '3' }, 'base-port': { type: 'string', default: '7001' }, data: { type: 'string', default: './data' } },
  allowPositionals: true,
});
const count = Number(values.nodes);
const basePort = Number(values['base-port']);
const colors = [36, 33, 35, 32, 34, 31, 96, 93, 95];
const children = [];
let stopping = false;

function startNode(i) {
  const id = `n${i + 1}`;
  const port = basePort + i;
  const args = [cli, 'serve', '--listen', `127.0.0.1:${port}`, '--node-id', id, '--data-dir', `${values.data}/${id}`];
  if (i > 0) args.push('--seeds', `127.0.0.1:${basePort}`);
  args.push(...positionals);
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const tag = `\x1b[${colors[i % colors.length]}m${id.padEnd(4)}|\x1b[0m `;
  createInterface({ input: child.stderr }).on('line', (l) => process.stdout.write(tag + l + '\n'));
  child.on('exit', (code, signal) => {
    process.stdout.write(`${tag}exited (${signal ?? code})\n`);
    if (!stopping) shutdown(1);
  });
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (l) => {
      if (l.startsWith('serving ')) resolve();
    });
    child.on('exit', () => reject(new Error(`${id} exited before serving`)));
  });
}

async function shutdown(code) {
  if (stopping) return;
  stopping = true;
  process.stdout.write('\nstopping the cluster (SIGTERM to every node)...\n');
  await Promise.all(children.filter((c) => c.exitCode === null).map((c) => new Promise((r) => { c.once('exit', r); c.kill('SIGTERM'); })));
  process.stdout.write('all nodes stopped\n');
  process.exit(code);
}
process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));

try {
  for (let i = 0; i < count; i++) await startNode(i);
  process.stdout.write(`\ndkv cluster of ${count} nodes on 127.0.0.1:${basePort}-${basePort + count - 1}. Try:\n` +
    `  npx dkv put greeting hello && npx dkv get greeting && npx dkv status\n` +
    `Ctrl-C stops the cluster.\n\n`);
} catch (e) {
  console.error(String(e));
  await shutdown(1);
}
