import type { Clock, Timer } from '../time/clock.js';
import type { Logger } from '../node/logger.js';
import type { Membership } from '../membership/membership.js';
import type { RecordStore } from '../storage/record-store.js';
import type { PeerTransport } from '../transport/peer-transport.js';
import { hashKey } from '../ring/hash.js';
import { primaries } from '../ring/preference-list.js';
import { sameVersions } from '../versioning/siblings.js';

export interface PurgerOptions {
  /** graceMs: a tombstone is kept at least this long after its delete (> the hint window). */
  graceMs: number;
  /** intervalMs is how often due tombstones are examined. */
  intervalMs: number;
  /** batch is the most tombstones examined per pass. */
  batch: number;
  n: number;
  timeoutMs: number;
}

/**
 * TombstonePurger implements safe deletes: a tombstone is purged only after its grace period
 * AND after every one of the key's N primaries is confirmed to hold exactly the same
 * versions or nothing (so no replica can still hold a value the tombstone deleted, and a hint
 * older than the grace period no longer exists because grace > hint window). Each replica purges its own
 * copy after its own check; until all have, anti-entropy may copy the tombstone back, which
 * is harmless and is purged again on the next pass. Deleted data never comes back.
 */
export class TombstonePurger {
  private timer: Timer | undefined;
  private running = false;
  purged = 0;

  constructor(
    private readonly store: RecordStore,
    private readonly membership: Membership,
    private readonly transport: PeerTransport,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly opts: PurgerOptions,
  ) {}

  start(): void {
    this.timer ??= this.clock.setInterval(() => void this.pass(), this.opts.intervalMs);
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  /** pass examines due tombstones once; returns how many were purged. */
  async pass(): Promise<number> {
    if (this.running) return 0;
    this.running = true;
    let purged = 0;
    try {
      const due = await this.store.tombstonesDeadBefore(this.clock.now() - this.opts.graceMs, this.opts.batch);
      for (const { key, indexKey } of due) if (await this.examine(key, indexKey)) purged++;
    } catch (e) {
      this.log.warn(`tombstone purge pass failed: ${(e as Error).message}`);
    } finally {
      this.running = false;
    }
    this.purged += purged;
    return purged;
  }

  private async examine(key: Buffer, indexKey: Buffer): Promise<boolean> {
    const local = await this.store.read(key);
    if (local.length === 0 || !local.every((v) => v.tombstone)) {
      await this.store.dropIndexEntry(indexKey);
      return false;
    }
    const ring = this.membership.ring();
    const replicas = primaries(ring, hashKey(key), Math.min(this.opts.n, ring.ownerCount));
    const self = this.membership.selfId;
    for (const id of replicas) {
      if (id === self) continue;
      const address = this.membership.address(id);
      if (!address) return false;
      try {
        const [theirs] = await this.transport.replicaRead(address, self, [key], this.opts.timeoutMs);
        // A replica that holds the same tombstones, or nothing at all (it purged already, or
        // never held the value), cannot bring the value back; one holding anything else can.
        if (theirs && theirs.length > 0 && !sameVersions(theirs, local)) {
          this.log.debug(`tombstone of ${key.toString('hex')} kept: ${id} holds other versions`);
          return false;
        }
      } catch (e) {
        this.log.debug(`tombstone of ${key.toString('hex')} kept: ${id} did not answer (${(e as Error).message})`);
        return false;
      }
    }
    const done = await this.store.purge(key, local, indexKey);
    this.log.debug(`tombstone of ${key.toString('hex')} ${done ? 'purged' : 'changed meanwhile; kept'}`);
    return done;
  }
}
