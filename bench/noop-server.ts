/**
 * noop-server.ts — the RPC ceiling: a grpc-js server implementing dkv.v1.KV whose Get and Put
 * answer immediately with an empty response (no validation, no storage, no coordination).
 * The same client, messages and serialization as against dkv measure what grpc-js and the
 * load generator alone cost on this machine.
 *
 *   node --import tsx bench/noop-server.ts [--listen 127.0.0.1:0]
 *
 * Contract: binds only a loopback address (assertTestTarget), prints exactly one line
 * `serving noop HOST:PORT` on stdout when ready, and exits 0 on SIGTERM or SIGINT.
 * Delete answers empty too; Watch answers UNIMPLEMENTED. Server options match dkv's
 * (src/api/server.ts) so message-size limits are the same.
 */
import { parseArgs } from 'node:util';
import { Server, ServerCredentials, status as Status, type ServiceDefinition, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { DeleteResponse, GetResponse, KVService, PutResponse, type KVServer } from '../src/generated/dkv/v1/kv.js';
import { assertTestTarget } from '../test/helpers/target-guard.js';

const { values: v } = parseArgs({ options: { listen: { type: 'string', default: '127.0.0.1:0' } }, strict: true });
const listen = v.listen!;
// The guard refuses port 0, which here means "pick one": check the host with a stand-in port.
assertTestTarget(listen.replace(/:0$/, ':1'));

// Built once: the responses carry no data, so every call can share them.
const emptyGet = GetResponse.fromPartial({});
const emptyPut = PutResponse.fromPartial({});
const emptyDelete = DeleteResponse.fromPartial({});

const impl: KVServer & UntypedServiceImplementation = {
  get: (_call, cb) => cb(null, emptyGet),
  put: (_call, cb) => cb(null, emptyPut),
  delete: (_call, cb) => cb(null, emptyDelete),
  watch: (call) => call.emit('error', { code: Status.UNIMPLEMENTED, details: 'the no-op server has no Watch' }),
};

const server = new Server({ 'grpc.max_receive_message_length': 64 * 1024 * 1024, 'grpc.max_send_message_length': 64 * 1024 * 1024 });
server.addService(KVService as unknown as ServiceDefinition, impl);
const port = await new Promise<number>((res, rej) => server.bindAsync(listen, ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
const host = listen.slice(0, listen.lastIndexOf(':'));
process.stdout.write(`serving noop ${host}:${port}\n`);

const stop = () => {
  const force = setTimeout(() => {
    server.forceShutdown();
    process.exit(0);
  }, 2_000);
  server.tryShutdown(() => {
    clearTimeout(force);
    process.exit(0);
  });
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
