import type { Clock, Timer } from '../time/clock.js';
import type { Logger } from '../node/logger.js';
import type { Membership } from '../membership/membership.js';
import type { RecordStore } from '../storage/record-store.js';
import type { Rebalancer } from './rebalancer.js';

/**
 * AutoCleanup deletes, by itself, the data of ranges this node no longer replicates, a grace
 * period after the ring last changed (Cassandra leaves this to `nodetool cleanup`; here the
 * manual `dkv cleanup` still exists and this runs it for the operator).
 *
 * Contract:
 *  - a cleanup runs only once the ring (as this node sees it) has stayed the same, with no
 *    topology change in progress, for `graceMs`; any ring change restarts the wait. The grace
 *    gives gossip time to spread the final ring and leaves the old copies in place for a while
 *    (an operator who regrets a change can still move back without streaming everything);
 *  - it runs at most once per ring: the checksum of the ring last cleaned is kept in the
 *    node's metadata, so a restart does not scan again for nothing;
 *  - deleting is Rebalancer.cleanup({ auto: true }): each key is checked against the current
 *    and future rings at the moment it is deleted, and the cleanup stops as soon as a change
 *    starts (see there);
 *  - graceMs = 0 disables automatic cleanup.
 */
export class AutoCleanup {
  private timer: Timer | undefined;
  private running = false;
  private stopped = false;
  private cleanedFor: string | undefined;

  constructor(
    private readonly membership: Membership,
    private readonly rebalancer: Rebalancer,
    private readonly store: RecordStore,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly graceMs: number,
  ) {}

  /** start loads the last cleaned ring and watches ring changes. */
  async start(): Promise<void> {
    if (this.graceMs <= 0) return;
    this.cleanedFor = (await this.store.getMeta('cleanup-ring'))?.toString('utf8');
    this.membership.onRingChange(() => this.schedule());
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = undefined;
  }

  /** schedule (re)starts the grace wait for the ring as it is now. */
  private schedule(): void {
    this.timer?.cancel();
    this.timer = undefined;
    if (this.stopped || this.graceMs <= 0) return;
    const ring = this.membership.ring();
    if (ring.ownerCount === 0 || this.membership.changing().length > 0) return; // the change's completion reschedules
    const sum = ring.checksum();
    if (sum === this.cleanedFor) return;
    this.timer = this.clock.setTimeout(() => void this.run(sum), this.graceMs);
  }

  private async run(sum: string): Promise<void> {
    this.timer = undefined;
    if (this.stopped || this.running) return;
    if (this.membership.changing().length > 0 || this.membership.ring().checksum() !== sum) return this.schedule();
    // Another operation of this node (a stream, a manual cleanup) goes first: wait again.
    if (this.rebalancer.running()) {
      this.timer = this.clock.setTimeout(() => void this.run(sum), Math.min(this.graceMs, 10_000));
      return;
    }
    this.running = true;
    try {
      const op = await this.rebalancer.cleanup({ auto: true });
      if (op.complete && this.membership.ring().checksum() === sum) {
        this.cleanedFor = sum;
        await this.store.putMeta('cleanup-ring', Buffer.from(sum, 'utf8'));
      }
    } catch (e) {
      if (!this.stopped) this.log.warn(`automatic cleanup failed: ${(e as Error).message}`);
    } finally {
      this.running = false;
    }
    if (this.cleanedFor !== sum) this.schedule();
  }
}
