/**
 * The gossiped member table (Dynamo section 4.8): one row per node, owned and advanced by
 * that node alone. Merging keeps, per node, the row with the larger (incarnation, version,
 * heartbeat): a node's own changes (tokens, status, weight) bump `version`, its liveness
 * bumps `heartbeat`, and a restart with a new data directory bumps `incarnation`. The merge
 * is a join (commutative, associative, idempotent), so every node converges on the same table.
 */

/** MemberStatus is a node's place in the ring lifecycle. */
export type MemberStatus = 'joining' | 'normal' | 'leaving' | 'left';

export const MEMBER_STATUSES: readonly MemberStatus[] = ['joining', 'normal', 'leaving', 'left'];

export interface MemberState {
  readonly nodeId: string;
  readonly address: string;
  readonly zone: string;
  readonly weight: number;
  readonly tokens: readonly number[];
  readonly status: MemberStatus;
  readonly incarnation: number;
  readonly version: number;
  readonly heartbeat: number;
  /** suspects are the node ids this member's failure detector suspects (its vote for DOWN). */
  readonly suspects: readonly string[];
  /**
   * pendingTokens are the tokens a NORMAL member will own once its reweigh (dkv set-weight)
   * completes; absent or empty: no reweigh in progress. The future ring uses them.
   */
  readonly pendingTokens?: readonly number[];
  /** pendingWeight is the weight once the reweigh completes; absent or 0 with no reweigh. */
  readonly pendingWeight?: number;
}

/** reweighing says whether a member has a reweigh in progress. */
export function reweighing(m: MemberState): boolean {
  return (m.pendingTokens?.length ?? 0) > 0;
}

/** describeChange names a member's topology change in progress, for errors and logs. */
export function describeChange(m: MemberState): string {
  return reweighing(m) ? `${m.nodeId} reweighing ${m.weight} -> ${m.pendingWeight}` : `${m.nodeId} ${m.status}`;
}

/** GossipMessage is one side of a push-pull exchange. */
export interface GossipMessage {
  from: string;
  clusterName: string;
  members: MemberState[];
  /** downVotes are the node ids the sender's failure detector considers down. */
  downVotes: string[];
}

/** newer says whether a should replace b (rows of the same node). */
export function newer(a: MemberState, b: MemberState): boolean {
  if (a.incarnation !== b.incarnation) return a.incarnation > b.incarnation;
  if (a.version !== b.version) return a.version > b.version;
  return a.heartbeat > b.heartbeat;
}

/**
 * mergeRows merges incoming rows into table in place and returns the rows that changed.
 * The caller's own row is never replaced by gossip (only the node itself advances it), except
 * that a higher incarnation for it is reported so the node can move past it.
 */
export function mergeRows(table: Map<string, MemberState>, incoming: readonly MemberState[], selfId: string): MemberState[] {
  const changed: MemberState[] = [];
  for (const row of incoming) {
    if (!isWellFormed(row)) continue;
    if (row.nodeId === selfId) continue;
    const cur = table.get(row.nodeId);
    if (!cur || newer(row, cur)) {
      table.set(row.nodeId, row);
      changed.push(row);
    }
  }
  return changed;
}

/** isWellFormed rejects rows that would corrupt the ring (hostile or buggy peers). */
export function isWellFormed(row: MemberState): boolean {
  return (
    typeof row.nodeId === 'string' &&
    row.nodeId.length > 0 &&
    row.nodeId.length <= 256 &&
    typeof row.address === 'string' &&
    Number.isFinite(row.weight) &&
    row.weight > 0 &&
    row.tokens.length <= 100_000 &&
    Array.isArray(row.suspects) &&
    row.suspects.length <= 10_000 &&
    row.tokens.every((t) => Number.isInteger(t) && t >= 0 && t <= 0xffffffff) &&
    (row.pendingTokens ?? []).length <= 100_000 &&
    (row.pendingTokens ?? []).every((t) => Number.isInteger(t) && t >= 0 && t <= 0xffffffff) &&
    (!reweighing(row) || (Number.isFinite(row.pendingWeight) && (row.pendingWeight as number) > 0)) &&
    MEMBER_STATUSES.includes(row.status) &&
    Number.isSafeInteger(row.incarnation) &&
    Number.isSafeInteger(row.version) &&
    Number.isSafeInteger(row.heartbeat)
  );
}

/** ownsTokens says whether a member's tokens are in the ring used for placement. */
export function ownsTokens(m: MemberState): boolean {
  return m.status === 'normal' || m.status === 'leaving';
}
