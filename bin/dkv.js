#!/usr/bin/env node
// The dkv command: runs the compiled CLI (npm ci builds it through the prepare script).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
if (!existsSync(main)) {
  process.stderr.write('dkv is not built: run "npm run build" in the dkv checkout\n');
  process.exit(2);
}
await import(main);
