import type { Clock, Timer } from '../time/clock.js';
import type { Logger } from '../node/logger.js';
import type { Membership } from '../membership/membership.js';
import type { PeerTransport, ReplicaEntry } from '../transport/peer-transport.js';
import { hashKey } from '../ring/hash.js';
import { primaries } from '../ring/preference-list.js';
import type { HintStore } from './hint-store.js';
import { crashPoint } from '../node/crash-point.js';

export interface ReplayerOptions {
  /** intervalMs is how often targets are checked for delivery. */
  intervalMs: number;
  /** batchKeys is the most hints sent in one message. */
  batchKeys: number;
  /** maxKeysPerSecond throttles delivery per target so a returning node is not flooded. */
  maxKeysPerSecond: number;
  /** timeoutMs bounds one delivery call. */
  timeoutMs: number;
}

/**
 * HintReplayer delivers hints to their target once gossip reports it UP (Dynamo 4.6):
 * batches of hints go as one ReplicaWrite with purpose HINT, throttled per target; each
 * hint is deleted only after the target acknowledged it (and only if it did not change
 * meanwhile). Hints older than the window are dropped: anti-entropy repairs those keys.
 */
export class HintReplayer {
  private timer: Timer | undefined;
  private running = false;
  delivered = 0;

  constructor(
    private readonly hints: HintStore,
    private readonly membership: Membership,
    private readonly transport: PeerTransport,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly opts: ReplayerOptions,
    /** local merges entries into this node's own records; n is the replication factor. */
    private readonly local: (entries: ReplicaEntry[]) => Promise<void>,
    private readonly n: number,
  ) {}

  start(): void {
    this.timer ??= this.clock.setInterval(() => void this.tick(), this.opts.intervalMs);
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  /** tick runs one delivery pass over every target that is UP; passes never overlap. */
  async tick(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      await this.hints.expire();
      const perTick = Math.max(1, Math.round((this.opts.maxKeysPerSecond * this.opts.intervalMs) / 1000));
      for (const target of this.hints.targets()) {
        const member = this.membership.member(target);
        if (!member || member.status === 'left') {
          await this.redirect(target, perTick);
          continue;
        }
        if (this.membership.liveness(target) !== 'up') continue;
        const address = this.membership.address(target);
        if (!address) continue;
        await this.deliver(target, address, perTick);
      }
    } catch (e) {
      this.log.warn(`hint replay failed: ${(e as Error).message}`);
    } finally {
      this.running = false;
    }
  }

  /**
   * redirect hands the hints held for a node that left the ring (decommissioned or removed)
   * to each key's current replicas, since the target will never take them.
   */
  private async redirect(target: string, allowance: number): Promise<void> {
    const ring = this.membership.ring();
    const self = this.membership.selfId;
    for (const h of await this.hints.batch(target, Math.min(allowance, this.opts.batchKeys))) {
      try {
        for (const id of primaries(ring, hashKey(h.key), Math.min(this.n, ring.ownerCount))) {
          if (id === self) await this.local([{ key: h.key, versions: h.versions }]);
          else await this.transport.replicaWrite(this.membership.address(id) ?? '', self, 'hint', [{ key: h.key, versions: h.versions }], this.opts.timeoutMs);
        }
        if (await this.hints.remove(h)) this.delivered++;
      } catch (e) {
        this.log.debug(`redirecting a hint for ${target} failed (${(e as Error).message}); will retry`);
        return;
      }
    }
  }

  private async deliver(target: string, address: string, allowance: number): Promise<void> {
    let left = allowance;
    while (left > 0) {
      const batch = await this.hints.batch(target, Math.min(this.opts.batchKeys, left));
      if (batch.length === 0) return;
      try {
        await this.transport.replicaWrite(address, this.membership.selfId, 'hint', batch.map((h) => ({ key: h.key, versions: h.versions })), this.opts.timeoutMs);
      } catch (e) {
        this.log.debug(`hint delivery to ${target} failed (${(e as Error).message}); will retry`);
        return;
      }
      crashPoint('hints.delivered');
      for (const h of batch) if (await this.hints.remove(h)) this.delivered++;
      left -= batch.length;
      if (batch.length < this.opts.batchKeys) return;
    }
  }
}
