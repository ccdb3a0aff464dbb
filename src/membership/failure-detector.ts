/**
 * Phi accrual failure detection (Hayashibara et al. 2004), as Cassandra applies it to
 * gossip: for each peer we record the intervals between observed heartbeat advances and
 * compute phi(t) = t / mean * log10(e) for the time t since the last one, i.e. -log10 of the
 * probability that a heartbeat still comes under an exponential model. A peer is suspected
 * once phi exceeds the threshold. The mean adapts to how often heartbeats actually arrive, so
 * a slow network or a busy peer raises the bar instead of causing false suspicion.
 *
 * Pure state with explicit times (monotonic ms); no clock is read here.
 */

const LOG10_E = Math.LOG10E;

export interface DetectorConfig {
  /** phiThreshold: suspect when phi exceeds it (8 ≈ a 1e-8 chance the peer is alive). */
  phiThreshold: number;
  /** windowSize: how many recent intervals the mean is taken over. */
  windowSize: number;
  /** minMeanMs: the mean interval never counts as shorter than this. */
  minMeanMs: number;
  /** firstIntervalMs: the assumed interval before any has been measured. */
  firstIntervalMs: number;
  /** maxIntervalMs: a longer gap is an outage or a pause, not a sample of the arrival rate;
   * it is not recorded (as Cassandra's detector ignores such intervals), so a node that was
   * down once is not detected more slowly the next time. */
  maxIntervalMs: number;
}

export class ArrivalWindow {
  private readonly intervals: number[] = [];
  private sum = 0;
  private last: number | undefined;

  constructor(private readonly cfg: DetectorConfig) {}

  /** heartbeat records a heartbeat advance observed at time now. */
  heartbeat(now: number): void {
    if (this.last !== undefined) {
      const d = Math.max(0, now - this.last);
      if (d <= this.cfg.maxIntervalMs) {
        this.intervals.push(d);
        this.sum += d;
        if (this.intervals.length > this.cfg.windowSize) this.sum -= this.intervals.shift()!;
      }
    }
    this.last = now;
  }

  /** shift moves the last arrival forward by ms: time this node itself was paused is not held against peers. */
  shift(ms: number): void {
    if (this.last !== undefined) this.last += ms;
  }

  mean(): number {
    const m = this.intervals.length ? this.sum / this.intervals.length : this.cfg.firstIntervalMs;
    return Math.max(this.cfg.minMeanMs, m);
  }

  /** phi at time now; 0 before the first heartbeat. */
  phi(now: number): number {
    if (this.last === undefined) return 0;
    return (Math.max(0, now - this.last) / this.mean()) * LOG10_E;
  }

  /** suspectAfterMs is how long after the last heartbeat phi crosses the threshold. */
  suspectAfterMs(): number {
    return (this.cfg.phiThreshold / LOG10_E) * this.mean();
  }

  get lastArrival(): number | undefined {
    return this.last;
  }
}

/**
 * isDown applies the requirement that a failure is declared only when at least two views
 * agree: this node suspects the peer, and at least one other member that this node considers
 * up reports suspecting it too. (A cluster of two can therefore never declare its peer down.)
 */
export function isDown(peer: string, selfSuspects: boolean, otherSuspicions: ReadonlyArray<{ voter: string; suspects: readonly string[] }>, voterUp: (id: string) => boolean): boolean {
  if (!selfSuspects) return false;
  return otherSuspicions.some((o) => o.voter !== peer && voterUp(o.voter) && o.suspects.includes(peer));
}
