/**
 * Ring: the consistent-hashing ring of Dynamo (DeCandia et al., SOSP 2007, §4.2) with virtual
 * nodes ("tokens") and per-node weights.
 *
 * Ownership rule: the ring space is [0, 2^32). A token at position t owned by node X makes X
 * the owner (first replica) of the range (prev, t], where prev is the previous token clockwise;
 * the first token's range wraps: (lastToken, 2^32) ∪ [0, firstToken]. So the owner of a key
 * hash h is the node of the first token >= h, wrapping to the first token. A single-token ring
 * gives its node the whole space.
 *
 * A Ring is immutable and built from the nodes whose membership state owns tokens (the caller
 * filters by state). Construction validates that ids are unique and that no token position
 * appears twice (within a node or across nodes): two owners for one position would make
 * ownership depend on input order. Nodes with no tokens are kept (they count in the checksum)
 * but own nothing and never appear in a preference list.
 *
 * Token allocation (allocate.ts), ownership metrics (ownership.ts) and preference lists
 * (preference-list.ts) are pure functions over a Ring; index.ts re-exports all of them.
 */
import { createHash } from 'node:crypto';

/** RING_SIZE is the number of positions on the ring: positions are integers in [0, 2^32). */
export const RING_SIZE = 2 ** 32;

/** MEMBER_SLOTS bounds the member count (2^20) so (token, member) packs into one double. */
const MEMBER_SLOTS = 2 ** 20;

/** RingNode is one physical node as the ring sees it. */
export interface RingNode {
  /** id is the node's stable, unique identity. */
  id: string;
  /** zone is the failure domain (rack, availability zone); replicas spread over zones. */
  zone: string;
  /** weight is relative capacity (>= 0); a weight-2 node should own twice a weight-1 node. */
  weight: number;
  /** tokens are the node's ring positions (uint32 integers), in any order. */
  tokens: readonly number[];
}

/** ClockwiseToken is one step of a clockwise walk. */
export interface ClockwiseToken {
  /** index is the token's index in sorted order, in [0, tokenCount). */
  readonly index: number;
  /** token is the ring position. */
  readonly token: number;
  /** nodeId owns the range ending at token. */
  readonly nodeId: string;
}

export class Ring {
  /** members sorted by id (code-unit order), each frozen with sorted tokens. */
  private readonly members: readonly RingNode[];
  private readonly indexById: ReadonlyMap<string, number>;
  /** positions holds all tokens in ascending order; owners[i] is the member index of positions[i]. */
  private readonly positions: Uint32Array;
  private readonly owners: Int32Array;
  /** zoneIndexes[m] is member m's zone index; zones are numbered by sorted zone name. */
  private readonly zoneIndexes: Int32Array;
  /** zoneCount is the number of distinct zones among nodes that own at least one token. */
  readonly zoneCount: number;
  /** ownerCount is the number of nodes that own at least one token. */
  readonly ownerCount: number;
  private digest: string | undefined;

  constructor(nodes: readonly RingNode[]) {
    const sorted = nodes
      .map((n) => validateNode(n))
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const indexById = new Map<string, number>();
    sorted.forEach((n, i) => {
      if (indexById.has(n.id)) throw new RangeError(`ring: duplicate node id ${JSON.stringify(n.id)}`);
      indexById.set(n.id, i);
    });
    this.members = Object.freeze(sorted);
    this.indexById = indexById;

    // Sort (token, member) pairs packed as token × 2^20 + member: exact below 2^53.
    if (sorted.length > MEMBER_SLOTS) throw new RangeError('ring: too many nodes');
    const total = sorted.reduce((s, n) => s + n.tokens.length, 0);
    const pairs = new Float64Array(total);
    let k = 0;
    sorted.forEach((n, m) => {
      for (const t of n.tokens) pairs[k++] = t * MEMBER_SLOTS + m;
    });
    pairs.sort();
    this.positions = new Uint32Array(total);
    this.owners = new Int32Array(total);
    for (let i = 0; i < total; i++) {
      const t = Math.floor(pairs[i] / MEMBER_SLOTS);
      if (i > 0 && t === this.positions[i - 1]) throw new RangeError(`ring: token ${t} is owned twice`);
      this.positions[i] = t;
      this.owners[i] = pairs[i] - t * MEMBER_SLOTS;
    }

    const zoneNames = [...new Set(sorted.map((n) => n.zone))].sort();
    const zoneIndex = new Map(zoneNames.map((z, i) => [z, i]));
    this.zoneIndexes = Int32Array.from(sorted, (n) => zoneIndex.get(n.zone) as number);
    const owning = sorted.filter((n) => n.tokens.length > 0);
    this.ownerCount = owning.length;
    this.zoneCount = new Set(owning.map((n) => n.zone)).size;
  }

  /** empty returns a ring with no nodes. */
  static empty(): Ring {
    return new Ring([]);
  }

  /** size is the number of nodes (including any without tokens). */
  get size(): number {
    return this.members.length;
  }

  /** tokenCount is the number of tokens on the ring. */
  get tokenCount(): number {
    return this.positions.length;
  }

  /** nodes returns the members sorted by id, each with tokens sorted ascending. */
  nodes(): readonly RingNode[] {
    return this.members;
  }

  /** node returns the member with this id, or undefined. */
  node(id: string): RingNode | undefined {
    const i = this.indexById.get(id);
    return i === undefined ? undefined : this.members[i];
  }

  /** nodeIndex returns the member index (position in nodes()) of id, or -1. */
  nodeIndex(id: string): number {
    return this.indexById.get(id) ?? -1;
  }

  /** nodeIdAt returns the id of member index m. */
  nodeIdAt(m: number): string {
    return this.members[m].id;
  }

  /** zoneIndexAt returns the zone index of member index m, in [0, number of zones). */
  zoneIndexAt(m: number): number {
    return this.zoneIndexes[m];
  }

  /** tokenAt returns the position of token index i (ascending order). */
  tokenAt(i: number): number {
    return this.positions[i];
  }

  /** ownerAt returns the member index owning token index i. */
  ownerAt(i: number): number {
    return this.owners[i];
  }

  /**
   * ownerIndex returns the token index whose range contains hash: the first token >= hash,
   * wrapping to 0. Returns -1 on a ring without tokens. O(log tokens), no allocation.
   */
  ownerIndex(hash: number): number {
    const p = this.positions;
    if (p.length === 0) return -1;
    let lo = 0;
    let hi = p.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (p[mid] < hash) lo = mid + 1;
      else hi = mid;
    }
    return lo === p.length ? 0 : lo;
  }

  /** ownerOf returns the id of the node owning hash, or undefined on a ring without tokens. */
  ownerOf(hash: number): string | undefined {
    const i = this.ownerIndex(hash);
    return i < 0 ? undefined : this.members[this.owners[i]].id;
  }

  /** rangeSize returns how many positions the range ending at token index i covers. */
  rangeSize(i: number): number {
    const p = this.positions;
    if (p.length === 1) return RING_SIZE;
    const prev = i === 0 ? p[p.length - 1] : p[i - 1];
    return i === 0 ? p[0] + RING_SIZE - prev : p[i] - prev;
  }

  /**
   * clockwise yields every token once, clockwise, starting with the token that owns `from`.
   * Convenience for tools and tests; hot paths use ownerIndex/ownerAt with index arithmetic.
   */
  *clockwise(from: number): Generator<ClockwiseToken> {
    const n = this.positions.length;
    const start = this.ownerIndex(from);
    for (let s = 0; s < n; s++) {
      const index = (start + s) % n;
      yield { index, token: this.positions[index], nodeId: this.members[this.owners[index]].id };
    }
  }

  /**
   * checksum is a sha256 hex digest over (id, zone, weight, sorted tokens) of every member in id
   * order. Equal memberships give equal checksums on every node whatever the input order, so
   * gossip can compare rings by this string alone.
   */
  checksum(): string {
    if (this.digest === undefined) {
      const canonical = this.members.map((n) => [n.id, n.zone, n.weight, n.tokens]);
      this.digest = createHash('sha256').update(JSON.stringify(canonical)).digest('hex');
    }
    return this.digest;
  }

  /** withNode returns a new ring with `node` added, or replacing the member with its id. */
  withNode(node: RingNode): Ring {
    return new Ring([...this.members.filter((n) => n.id !== node.id), node]);
  }

  /** withoutNode returns a new ring without the member `id` (the same members if absent). */
  withoutNode(id: string): Ring {
    return new Ring(this.members.filter((n) => n.id !== id));
  }
}

function validateNode(n: RingNode): RingNode {
  if (typeof n.id !== 'string' || n.id.length === 0) throw new RangeError('ring: node id must be a non-empty string');
  if (typeof n.zone !== 'string') throw new RangeError(`ring: node ${n.id} zone must be a string`);
  if (!Number.isFinite(n.weight) || n.weight < 0) throw new RangeError(`ring: node ${n.id} weight must be finite and >= 0`);
  for (const t of n.tokens) {
    if (!Number.isInteger(t) || t < 0 || t >= RING_SIZE) throw new RangeError(`ring: node ${n.id} token ${t} is not a uint32`);
  }
  const tokens = Object.freeze([...n.tokens].sort((a, b) => a - b));
  return Object.freeze({ id: n.id, zone: n.zone, weight: n.weight, tokens });
}
