#!/usr/bin/env node
import { status as Status } from '@grpc/grpc-js';
import { CliError } from './args.js';
import { cleanup, decommission, del, DkvRequestError, get, put, removenode, repair, ring, setWeight, status, watch, type Out } from './commands.js';
import { serve, SERVE_USAGE } from './serve.js';

const USAGE = `dkv — a Dynamo-style distributed key-value store

usage: dkv COMMAND [flags]

data:
  get KEY                  read a key (exit 1 when absent); -v shows the receipt
  put KEY VALUE|-          write a key (--ttl 30s, --context B64, --replace)
  del KEY                  delete a key
  watch KEY | --prefix P   stream changes as they happen (--from TOKEN resumes)
operators:
  serve                    run a node (dkv serve --help)
  status                   this node's view of the cluster
  ring                     the ring: tokens, shares, balance, checksum
  ring --plan-join ID      what a new node ID would move if it joined now (--weight W, --zone Z)
  repair                   run Merkle anti-entropy now, with progress (--peer ID)
  decommission NODE        stream NODE's ranges to their new owners, then it leaves (--dry-run)
  set-weight NODE W        change NODE's weight online; only the ranges that change hands move (--dry-run)
  removenode NODE          remove a dead node; the others re-replicate its ranges (--dry-run)
  cleanup [--all]          delete data of ranges a node no longer replicates (nodes also do it
                           by themselves --cleanup-grace after a change completes)
  (to add a node, start it: dkv serve --seeds HOST:PORT; it streams its ranges, then serves)

client flags: --addr HOST:PORT[,HOST:PORT] (default $DKV_ADDR or 127.0.0.1:7001), --json,
  --timeout 5s, --consistency one|quorum|all, --r N, --w N, --strict
exit codes: 0 ok, 1 key not found (get), 2 error`;

const io: Out = {
  out: (s) => process.stdout.write(s + '\n'),
  err: (s) => process.stderr.write(s + '\n'),
};

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'serve':
      if (rest.includes('--help')) {
        io.out(SERVE_USAGE);
        return 0;
      }
      await serve(rest);
      return -1; // keeps running until a signal
    case 'get':
      return get(rest, io);
    case 'put':
      return put(rest, io, readStdin);
    case 'del':
    case 'delete':
      return del(rest, io);
    case 'watch':
      return watch(rest, io);
    case 'status':
      return status(rest, io);
    case 'ring':
      return ring(rest, io);
    case 'repair':
      return repair(rest, io);
    case 'decommission':
      return decommission(rest, io);
    case 'set-weight':
      return setWeight(rest, io);
    case 'removenode':
      return removenode(rest, io);
    case 'cleanup':
      return cleanup(rest, io);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      io.out(USAGE);
      return cmd === undefined ? 2 : 0;
    default:
      throw new CliError(`unknown command ${JSON.stringify(cmd)}; run dkv --help`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (e) => {
    if (e instanceof DkvRequestError) io.err(`error: ${Status[e.code] ?? e.code}${e.dkvCode ? ` (${e.dkvCode})` : ''} from ${e.node}: ${e.message}`);
    else if (e instanceof CliError) io.err(`error: ${e.message}`);
    else io.err(`error: ${(e as Error)?.message ?? String(e)}`);
    process.exitCode = 2;
  },
);
