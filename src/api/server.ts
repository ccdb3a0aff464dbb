import { Server, ServerCredentials, type sendUnaryData, type ServerUnaryCall, type ServiceDefinition, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { invalidArgument } from '../errors.js';
import { toServiceError } from './status.js';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation } from 'grpc-health-check';
import { BinaryReader } from '@bufbuild/protobuf/wire';
import type { PackageDefinition } from '@grpc/proto-loader';
import { KVService } from '../generated/dkv/v1/kv.js';
import { AdminService } from '../generated/dkv/v1/admin.js';
import { InternodeService } from '../generated/dkv/internode/v1/internode.js';
import { dkvDescriptorSet, healthDescriptorSet } from '../generated/descriptors.js';
import type { DkvNode } from '../node/node.js';
import { internodeService } from '../transport/internode-service.js';
import { adminService } from './admin-service.js';
import { kvService } from './kv-service.js';
import { watchHandler } from './watch-service.js';

/** SERVICES are the names reflection lists and health reports. */
export const SERVICES = ['dkv.v1.KV', 'dkv.v1.Admin', 'dkv.internode.v1.Internode', 'grpc.health.v1.Health'];

/** Messages up to 8 MiB: the largest value (4 MiB with --max-value-bytes) plus a batch of records. */
const SERVER_OPTIONS = { 'grpc.max_receive_message_length': 64 * 1024 * 1024, 'grpc.max_send_message_length': 64 * 1024 * 1024 };

/**
 * bindServer binds a gRPC server on `listen` (port 0 picks a free port) and returns it with
 * the bound port. Services are added by serveNode once the node exists (its advertised
 * address may depend on the port).
 */
export async function bindServer(listen: string): Promise<{ server: Server; port: number }> {
  const server = new Server(SERVER_OPTIONS);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(listen, ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return { server, port };
}

const MALFORMED = Symbol('malformed request');

/** INT64_FIELDS names the 64-bit integer fields of requests, for decode errors. */
const INT64_FIELDS: Record<string, string> = {
  '/dkv.v1.KV/Put': 'ttl_ms',
  '/dkv.internode.v1.Internode/Forward': 'put.ttl_ms',
  '/dkv.internode.v1.Internode/Gossip': 'members (incarnation, version or heartbeat)',
  '/dkv.internode.v1.Internode/ReplicaWrite': 'entries.record (counter or expiry)',
  '/dkv.internode.v1.Internode/ChangeFeed': 'from_seq or incarnation',
  '/dkv.internode.v1.Internode/StreamRange': 'max_bytes_per_s',
};

/**
 * guarded makes a service answer INVALID_ARGUMENT for a request that does not decode (grpc-js
 * would answer INTERNAL): the deserializer never throws, it marks the request, and the
 * handler wrapper answers before the real handler sees it.
 */
function guarded(def: ServiceDefinition, impl: UntypedServiceImplementation): [ServiceDefinition, UntypedServiceImplementation] {
  const d: Record<string, unknown> = {};
  const i: UntypedServiceImplementation = {};
  for (const [name, m] of Object.entries(def)) {
    d[name] = {
      ...m,
      requestDeserialize: (b: Buffer) => {
        try {
          return m.requestDeserialize(b);
        } catch (e) {
          return { [MALFORMED]: (e as Error).message };
        }
      },
    };
    const h = impl[name] as (call: ServerUnaryCall<unknown, unknown>, cb?: sendUnaryData<unknown>) => void;
    i[name] = ((call: ServerUnaryCall<unknown, unknown>, cb?: sendUnaryData<unknown>) => {
      const bad = (call.request as Record<symbol, string> | undefined)?.[MALFORMED];
      if (bad === undefined) return h(call, cb);
      // The only way a well-formed protobuf fails to decode here is a 64-bit integer beyond
      // ±2^53 (ts-proto's forceLong=number): name the request's int64 fields.
      const wide = /MAX_SAFE_INTEGER|MIN_SAFE_INTEGER/.test(bad) ? INT64_FIELDS[m.path] : undefined;
      const err = wide
        ? toServiceError(invalidArgument(wide, `is outside ±2^53 (${bad})`))
        : toServiceError(invalidArgument('request', `malformed ${m.path} message: ${bad}`));
      if (cb) cb(err, null);
      else call.emit('error', err);
    }) as UntypedServiceImplementation[string];
  }
  return [d as unknown as ServiceDefinition, i];
}

/** serveNode adds KV, Admin, Internode, Health and reflection (v1 and v1alpha) for node. */
export function serveNode(server: Server, node: DkvNode): HealthImplementation {
  const limits = { maxKeyBytes: node.config.maxKeyBytes, maxValueBytes: node.config.maxValueBytes };
  server.addService(...guarded(KVService as unknown as ServiceDefinition, kvService(node.coordinator, limits, node, watchHandler(node, limits))));
  server.addService(...guarded(AdminService as unknown as ServiceDefinition, adminService(node)));
  server.addService(...guarded(InternodeService as unknown as ServiceDefinition, internodeService(node.handler, node.id, limits)));
  const health = new HealthImplementation(Object.fromEntries([['', 'SERVING'], ...SERVICES.map((s) => [s, 'SERVING'])]));
  health.addToServer(server);
  reflection().addToServer(server);
  return health;
}

/**
 * reflection feeds @grpc/reflection from buf-built descriptor sets rather than from
 * proto-loader, whose rebuilt descriptors break buf curl and grpcurl on map fields
 * (TOOLCHAIN.md pitfall 4).
 */
function reflection(): ReflectionService {
  const files = [...splitDescriptorSet(dkvDescriptorSet), ...splitDescriptorSet(healthDescriptorSet)];
  const pkg = { dkv: { fileDescriptorProtos: files } } as unknown as PackageDefinition;
  return new ReflectionService(pkg, { services: SERVICES });
}

/** splitDescriptorSet returns the FileDescriptorProto bytes of a base64 FileDescriptorSet (field 1). */
export function splitDescriptorSet(base64: string): Buffer[] {
  const reader = new BinaryReader(Buffer.from(base64, 'base64'));
  const out: Buffer[] = [];
  while (reader.pos < reader.len) {
    const [field, wire] = reader.tag();
    if (field === 1 && wire === 2) out.push(Buffer.from(reader.bytes()));
    else reader.skip(wire);
  }
  return out;
}
