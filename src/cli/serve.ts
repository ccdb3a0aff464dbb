import { bindServer, serveNode } from '../api/server.js';
import { DkvNode } from '../node/node.js';
import { local, validateConfig, type FsyncMode, type NodeConfig } from '../node/config.js';
import { consoleLogger, type LogLevel } from '../node/logger.js';
import { GrpcTransport } from '../transport/grpc-transport.js';
import { bytes, CliError, duration, int, parse } from './args.js';

export const SERVE_USAGE = `dkv serve [flags]    run one dkv node
  --listen HOST:PORT       address to bind (default 127.0.0.1:7001; port 0 picks one)
  --advertise HOST:PORT    address peers and clients use (default: the bound address)
  --node-id ID             stable node id (default: the advertised address)
  --data-dir DIR           LevelDB directory (default ./data/<node-id>)
  --seeds H:P,H:P          existing members to join through (none: start a new cluster)
  --cluster-name NAME      must match on every node (default dkv)
  --zone ZONE              failure domain; replicas spread over zones
  --weight W               relative capacity (default 1)
  --n N                    replication factor (default 3)
  --fsync never|batch|always   durability of acknowledged writes (default never)
  --max-value-bytes SIZE   largest key + value (default 10KiB, at most 4MiB)
  --max-siblings N         most siblings a write may leave (default 100)
  --cache-bytes SIZE       hot-key cache memory budget (default 32MiB)
  --engine level|memory    storage engine (default level)
  --level-max-open-files N  LevelDB table files kept open (and memory-mapped) (default 128)
  --gossip-interval DUR    gossip period (default 200ms)
  --hinted-handoff on|off  sloppy quorum with hints (default on)
  --max-hint-window DUR    hints older than this are dropped for anti-entropy (default 3h)
  --max-hint-bytes SIZE    hints kept per target node (default 256MiB)
  --anti-entropy-interval DUR|off  time between Merkle anti-entropy passes (default 30s)
  --tombstone-grace DUR    tombstones are kept at least this long (default 4h, > --max-hint-window)
  --changelog-retention DUR  how long watch resume tokens stay valid (default 1h)
  --changelog-max-entries N  change-log entries kept per node (default 1000000)
  --watch-buffer N         unread events before a slow watcher is cut off (default 10000)
  --cleanup-grace DUR|off   delete data of ranges the node no longer replicates this long after
                           the ring last changed (default 1h; 0 or off: only dkv cleanup does)
  --stream-rate SIZE       bytes per second of each join / decommission stream (default 16MiB)
  --phi-threshold PHI      failure detector threshold (default 8; higher is slower but calmer)
  --log-level LEVEL        debug|info|warn|error (default info)`;

/** serve runs a node until SIGTERM or SIGINT, then stops it gracefully. */
export async function serve(argv: string[]): Promise<void> {
  const { values: v } = parse(argv, {
    listen: { type: 'string' },
    advertise: { type: 'string' },
    'node-id': { type: 'string' },
    'data-dir': { type: 'string' },
    seeds: { type: 'string' },
    'cluster-name': { type: 'string' },
    zone: { type: 'string' },
    weight: { type: 'string' },
    n: { type: 'string' },
    fsync: { type: 'string' },
    'max-value-bytes': { type: 'string' },
    'max-siblings': { type: 'string' },
    'cache-bytes': { type: 'string' },
    'level-max-open-files': { type: 'string' },
    engine: { type: 'string' },
    'gossip-interval': { type: 'string' },
    'phi-threshold': { type: 'string' },
    'hinted-handoff': { type: 'string' },
    'anti-entropy-interval': { type: 'string' },
    'changelog-retention': { type: 'string' },
    'changelog-max-entries': { type: 'string' },
    'watch-buffer': { type: 'string' },
    'stream-rate': { type: 'string' },
    'cleanup-grace': { type: 'string' },
    'tombstone-grace': { type: 'string' },
    'max-hint-window': { type: 'string' },
    'max-hint-bytes': { type: 'string' },
    'log-level': { type: 'string' },
  });
  const listen = (v.listen as string | undefined) ?? '127.0.0.1:7001';
  const { server, port } = await bindServer(listen);
  const host = listen.slice(0, listen.lastIndexOf(':'));
  const advertise = (v.advertise as string | undefined) ?? `${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${port}`;
  const nodeId = (v['node-id'] as string | undefined) ?? advertise;
  const overrides: Partial<NodeConfig> = {
    listen,
    advertise,
    nodeId,
    dataDir: (v['data-dir'] as string | undefined) ?? `./data/${nodeId.replace(/[^A-Za-z0-9._-]/g, '_')}`,
    seeds: ((v.seeds as string | undefined) ?? '').split(',').map((s) => s.trim()).filter(Boolean),
  };
  if (v['cluster-name']) overrides.clusterName = v['cluster-name'] as string;
  if (v.zone !== undefined) overrides.zone = v.zone as string;
  if (v.weight !== undefined) {
    const w = Number(v.weight);
    if (!Number.isFinite(w)) throw new CliError(`--weight: expected a number, got ${JSON.stringify(v.weight)}`);
    overrides.weight = w;
  }
  if (v.n !== undefined) overrides.n = int(v.n as string, '--n');
  if (v.fsync !== undefined) overrides.fsync = v.fsync as FsyncMode;
  if (v['max-value-bytes'] !== undefined) overrides.maxValueBytes = bytes(v['max-value-bytes'] as string, '--max-value-bytes');
  if (v['max-siblings'] !== undefined) overrides.maxSiblings = int(v['max-siblings'] as string, '--max-siblings');
  if (v['cache-bytes'] !== undefined) overrides.cacheBytes = bytes(v['cache-bytes'] as string, '--cache-bytes');
  if (v['level-max-open-files'] !== undefined) overrides.levelMaxOpenFiles = int(v['level-max-open-files'] as string, '--level-max-open-files');
  if (v.engine !== undefined) overrides.engine = v.engine as 'level' | 'memory';
  if (v['hinted-handoff'] !== undefined) {
    if (!['on', 'off'].includes(v['hinted-handoff'] as string)) throw new CliError('--hinted-handoff: expected on or off');
    overrides.hintedHandoff = v['hinted-handoff'] === 'on';
  }
  if (v['changelog-retention'] !== undefined) overrides.changelogRetentionMs = duration(v['changelog-retention'] as string, '--changelog-retention');
  if (v['changelog-max-entries'] !== undefined) overrides.changelogMaxEntries = int(v['changelog-max-entries'] as string, '--changelog-max-entries');
  if (v['stream-rate'] !== undefined) overrides.streamBytesPerS = bytes(v['stream-rate'] as string, '--stream-rate');
  if (v['cleanup-grace'] !== undefined) overrides.cleanupGraceMs = v['cleanup-grace'] === 'off' ? 0 : duration(v['cleanup-grace'] as string, '--cleanup-grace');
  if (v['watch-buffer'] !== undefined) overrides.watchBufferLimit = int(v['watch-buffer'] as string, '--watch-buffer');
  if (v['anti-entropy-interval'] !== undefined) overrides.antiEntropyIntervalMs = v['anti-entropy-interval'] === 'off' ? 0 : duration(v['anti-entropy-interval'] as string, '--anti-entropy-interval');
  if (v['tombstone-grace'] !== undefined) overrides.tombstoneGraceMs = duration(v['tombstone-grace'] as string, '--tombstone-grace');
  if (v['max-hint-window'] !== undefined) overrides.maxHintWindowMs = duration(v['max-hint-window'] as string, '--max-hint-window');
  if (v['max-hint-bytes'] !== undefined) overrides.maxHintBytes = bytes(v['max-hint-bytes'] as string, '--max-hint-bytes');
  if (v['phi-threshold'] !== undefined) overrides.phiThreshold = Number(v['phi-threshold']);
  if (v['gossip-interval'] !== undefined) overrides.gossipIntervalMs = duration(v['gossip-interval'] as string, '--gossip-interval');
  const config = validateConfig(local(overrides));
  const log = consoleLogger(nodeId, ((v['log-level'] as string | undefined) ?? 'info') as LogLevel);

  const node = await DkvNode.create(config, { transport: new GrpcTransport(), log });
  const health = serveNode(server, node);
  await node.start(false);
  log.info(`serving on ${advertise} (listen ${listen}, data ${config.dataDir}, incarnation ${node.store.incarnation}, fsync ${config.fsync})`);
  // One machine-readable line on stdout: test harnesses and scripts wait for it.
  process.stdout.write(`serving ${nodeId} ${advertise}\n`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info(`${signal}: stopping (finishing in-flight requests)`);
    for (const s of ['', 'dkv.v1.KV', 'dkv.v1.Admin']) health.setStatus(s, 'NOT_SERVING');
    await node.stop();
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, config.shutdownGraceMs);
      server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
    log.info('stopped; storage closed');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}
