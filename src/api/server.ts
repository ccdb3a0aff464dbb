import { Server, ServerCredentials, type ServiceDefinition } from '@grpc/grpc-js';
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

/** serveNode adds KV, Admin, Internode, Health and reflection (v1 and v1alpha) for node. */
export function serveNode(server: Server, node: DkvNode): HealthImplementation {
  const limits = { maxKeyBytes: node.config.maxKeyBytes, maxValueBytes: node.config.maxValueBytes };
  server.addService(KVService as unknown as ServiceDefinition, kvService(node.coordinator, limits, node, watchHandler(node, limits)));
  server.addService(AdminService as unknown as ServiceDefinition, adminService(node));
  server.addService(InternodeService as unknown as ServiceDefinition, internodeService(node.handler, node.id));
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
