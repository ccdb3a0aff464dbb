import { DkvError } from '../errors.js';
import type { Clock } from '../time/clock.js';
import type { Random } from '../time/random.js';
import type { RecordStore } from '../storage/record-store.js';
import type { Membership } from '../membership/membership.js';
import { describeChange, reweighing, type MemberState } from '../membership/member-table.js';
import { allocateTokens } from '../ring/allocate.js';
import type { Move } from '../rebalance/plan.js';
import { checkWeight, joinPlan, reweighPlan, type PlanOptions } from '../rebalance/change-plan.js';
import { measurePlan, type PlanSize } from '../rebalance/plan-size.js';
import type { Rebalancer } from '../rebalance/rebalancer.js';
import type { NodeConfig } from './config.js';
import type { Logger } from './logger.js';

/** ChangePlan is what a topology change would move, for dry-runs and the operation log. */
export interface ChangePlan {
  moves: Move[];
  size: PlanSize;
}

export interface TopologyDeps {
  config: NodeConfig;
  membership: Membership;
  rebalancer: Rebalancer;
  store: RecordStore;
  clock: Clock;
  random: Random;
  log: Logger;
  /** persistSelf writes this node's member row to its data directory. */
  persistSelf: () => Promise<void>;
  /** stopping says whether the node is shutting down (loops end then). */
  stopping: () => boolean;
}

/**
 * Topology runs this node's part of a ring change (the Cassandra bootstrap / decommission
 * model, plus reweigh): joining through the seeds and taking tokens, leaving, and changing
 * weight, each as JOINING / LEAVING / pending tokens gossiped to the others while the
 * rebalancer streams the moving ranges. One change at a time in the whole cluster; a change
 * cut short by a crash resumes on restart; a failed attempt is retried until it completes.
 */
export class Topology {
  /** loop is the change running in the background (awaited by a graceful stop). */
  loop: Promise<void> | undefined;

  constructor(private readonly d: TopologyDeps) {}

  /**
   * start resumes a change cut short by a crash (`me` owns tokens), or joins the ring (first
   * node: takes tokens alone; otherwise through the seeds, as soon as one answers).
   */
  start(me: MemberState): Promise<void> | undefined {
    if (me.tokens.length === 0) this.loop = this.join();
    else if (me.status === 'joining') this.loop = this.finishJoin();
    else if (me.status === 'leaving') this.loop = this.finishDecommission();
    else if (me.status === 'normal' && reweighing(me)) this.loop = this.finishReweigh();
    return this.loop;
  }

  /** finishJoin streams the ranges this joining node will own, then makes it NORMAL. */
  private async finishJoin(): Promise<void> {
    await this.untilDone('join', async () => {
      await this.d.rebalancer.runStreams('join');
      this.d.membership.updateSelf({ status: 'normal' });
      await this.d.persistSelf();
      this.d.log.info(`join complete: NORMAL; ring has ${this.d.membership.ring().ownerCount} node(s)`);
    });
  }

  /**
   * untilDone runs a join or decommission step until it succeeds or the node stops: a failed
   * attempt (peers unreachable, a full disk) is retried from the confirmed cursors after a
   * growing pause, so a node never stays JOINING or LEAVING, blocking every other topology
   * change, because of a transient failure. Each failure stays visible in Admin.Status.
   */
  private async untilDone(what: string, step: () => Promise<void>): Promise<void> {
    for (let attempt = 0; !this.d.stopping(); attempt++) {
      try {
        await step();
        return;
      } catch (e) {
        if (this.d.stopping()) return;
        const pause = Math.min(30_000, 1_000 * 2 ** Math.min(attempt, 5));
        this.d.log.error(`${what} failed: ${(e as Error).message}; retrying in ${pause / 1000}s from the last confirmed keys`);
        await this.d.clock.sleep(pause);
      }
    }
  }

  /**
   * decommission makes this node leave: LEAVING while it pushes every range it holds to the
   * node that will own it (it keeps serving meanwhile), then LEFT. Refused while another
   * topology change is in progress.
   */
  async decommission(): Promise<void> {
    const me = this.d.membership.selfState();
    if (me.status !== 'normal') throw new DkvError('FAILED_PRECONDITION', `${this.d.config.nodeId} is ${me.status}; only a NORMAL node can be decommissioned`);
    this.refuseWhileChanging();
    if (this.d.membership.ring().ownerCount <= 1) throw new DkvError('FAILED_PRECONDITION', `${this.d.config.nodeId} is the last node owning data; decommissioning it would lose every key`);
    this.d.membership.updateSelf({ status: 'leaving' });
    try {
      await this.d.persistSelf();
    } catch (e) {
      // Not LEAVING unless it is on disk: a restart must resume what the others were told.
      this.d.membership.updateSelf({ status: 'normal' });
      throw e;
    }
    this.loop = this.finishDecommission();
  }

  /** refuseWhileChanging enforces one topology change at a time, naming the one running. */
  refuseWhileChanging(except?: string): void {
    const busy = this.d.membership.changing().filter((m) => m.nodeId !== except);
    if (busy.length > 0) throw new DkvError('FAILED_PRECONDITION', `a topology change is in progress (${busy.map(describeChange).join(', ')}); one at a time: retry when it completes`);
  }

  /**
   * planReweigh returns what setting this node's weight would move, changing nothing
   * (rebalance/change-plan.ts). Refused (FAILED_PRECONDITION) unless this node is NORMAL and no
   * other change is in progress; INVALID_ARGUMENT for a weight outside (0, MAX_WEIGHT].
   */
  async planReweigh(weight: number): Promise<ChangePlan & { tokens: number[] }> {
    checkWeight(weight);
    const me = this.d.membership.selfState();
    if (me.status !== 'normal') throw new DkvError('FAILED_PRECONDITION', `${this.d.config.nodeId} is ${me.status}; only a NORMAL node can be reweighed`);
    this.refuseWhileChanging();
    const cur = this.d.membership.ring();
    const plan = reweighPlan(cur, this.d.config.nodeId, weight, this.planOptions());
    return { ...plan, size: await measurePlan(this.d.store, cur, this.d.config.nodeId, this.d.config.n, plan.moves) };
  }

  private planOptions(): PlanOptions {
    return { n: this.d.config.n, tokensPerWeight: this.d.config.tokensPerWeight };
  }

  /**
   * setWeight changes this node's weight online: it computes its new tokens (kept when growing,
   * a subset when shrinking), publishes them as pending (writes to the moving ranges then also
   * reach their new owners), pulls the ranges it gains and pushes those it gives up, then
   * takes the new tokens and weight. Resumes after a crash. Returns the plan it runs.
   */
  async setWeight(weight: number): Promise<ChangePlan & { tokens: number[] }> {
    const plan = await this.planReweigh(weight);
    const me = this.d.membership.selfState();
    const sameTokens = plan.tokens.length === me.tokens.length && plan.tokens.every((t, i) => t === me.tokens[i]);
    if (sameTokens) {
      this.d.membership.updateSelf({ weight });
      await this.d.persistSelf();
      return plan;
    }
    this.d.membership.updateSelf({ pendingTokens: plan.tokens, pendingWeight: weight });
    await this.d.persistSelf();
    this.d.log.info(`reweighing ${me.weight} -> ${weight}: ${me.tokens.length} -> ${plan.tokens.length} tokens, ${plan.moves.length} range move(s)`);
    this.loop = this.finishReweigh();
    return plan;
  }

  private async finishReweigh(): Promise<void> {
    await this.untilDone('reweigh', async () => {
      await this.d.rebalancer.runStreams('reweigh');
      const me = this.d.membership.selfState();
      this.d.membership.updateSelf({ tokens: me.pendingTokens ?? me.tokens, weight: me.pendingWeight ?? me.weight, pendingTokens: [], pendingWeight: 0 });
      await this.d.persistSelf();
      this.d.log.info(`reweigh complete: weight ${this.d.membership.selfState().weight}, ${this.d.membership.selfState().tokens.length} tokens`);
    });
  }

  /**
   * planJoin returns what a new node `id` of `weight` in `zone` joining now would move (the
   * join dry-run, answered by any member). The joining node draws its own tokens when it
   * starts, so its real ranges differ; their number, shares and sizes are what to expect.
   */
  async planJoin(id: string, weight: number, zone: string): Promise<ChangePlan> {
    const m = this.d.membership.member(id);
    if (m && m.status !== 'left') throw new DkvError('FAILED_PRECONDITION', `${id} is already a member (${m.status})`);
    const cur = this.d.membership.ring();
    const plan = joinPlan(cur, id, weight, zone, this.planOptions());
    return { moves: plan.moves, size: await measurePlan(this.d.store, cur, this.d.config.nodeId, this.d.config.n, plan.moves) };
  }

  private async finishDecommission(): Promise<void> {
    await this.untilDone('decommission', async () => {
      await this.d.rebalancer.runStreams('decommission');
      this.d.membership.updateSelf({ status: 'left' });
      await this.d.persistSelf();
      await this.announce();
      this.d.log.info('decommission complete: LEFT the ring; this node can be stopped');
    });
  }

  /**
   * announce pushes this node's row to every member it can reach, so that a node stopped as
   * soon as it reports LEFT is not left in the others' rings as a LEAVING node that is down
   * (its ranges would keep a dead primary). Members it cannot reach learn it by gossip from
   * those it reached.
   */
  private async announce(): Promise<void> {
    const peers = this.d.membership.members().filter((m) => m.nodeId !== this.d.config.nodeId && m.status !== 'left' && this.d.membership.liveness(m.nodeId) === 'up');
    await Promise.all(
      peers.map((m) =>
        this.d.membership.exchangeWith(m.address).catch((e) => this.d.log.warn(`could not tell ${m.nodeId} this node left (${(e as Error).message}); gossip will`)),
      ),
    );
  }

  private async join(): Promise<void> {
    const seeds = this.d.config.seeds.filter((s) => s !== this.d.config.advertise);
    let attempt = 0;
    while (seeds.length > 0 && !this.d.stopping()) {
      for (const seed of seeds) {
        try {
          await this.d.membership.exchangeWith(seed);
        } catch (e) {
          if (attempt % 10 === 0) this.d.log.warn(`seed ${seed} did not answer: ${(e as Error).message}; retrying`);
        }
      }
      if (this.d.membership.ring().ownerCount > 0) break;
      attempt++;
      await this.d.clock.sleep(Math.min(2_000, 100 * attempt));
    }
    // One topology change at a time: wait while another node joins or leaves.
    for (let waited = 0; !this.d.stopping() && this.d.membership.changing().some((m) => m.nodeId !== this.d.config.nodeId); waited++) {
      if (waited % 20 === 0) this.d.log.info(`waiting to join: ${this.d.membership.changing().filter((m) => m.nodeId !== this.d.config.nodeId).map(describeChange).join(', ')} in progress`);
      await this.d.clock.sleep(500);
    }
    if (this.d.stopping()) return;
    const self = this.d.membership.selfState();
    const previous = this.d.membership.previousSelf;
    // A wiped node takes back its own tokens (it streams its ranges again as JOINING).
    const ring = previous ? this.d.membership.ring().withoutNode(this.d.config.nodeId) : this.d.membership.ring();
    const tokens = previous
      ? [...previous.tokens]
      : allocateTokens(ring.ownerCount > 0 ? ring : undefined, this.d.config.nodeId, self.weight, { tokensPerWeight: this.d.config.tokensPerWeight, replicas: this.d.config.n, zone: self.zone }, this.d.random);
    if (previous) this.d.log.info(`this node id held ${previous.tokens.length} tokens in incarnation ${previous.incarnation}: taking them back`);
    const first = ring.ownerCount === 0;
    this.d.membership.updateSelf({ tokens, status: first ? 'normal' : 'joining' });
    await this.d.persistSelf();
    this.d.log.info(`took ${tokens.length} tokens (${first ? 'first node: NORMAL' : 'JOINING: streaming the ranges it will own'})`);
    if (!first) await this.finishJoin();
  }
}
