/**
 * ring/: consistent hashing, token allocation and preference lists (Dynamo 2007 §4.2–4.3).
 * Everything here is pure and synchronous; randomness comes in as a Random argument.
 */
export { hashKey, murmur3x86_32 } from './hash.js';
export { Ring, RING_SIZE, type RingNode, type ClockwiseToken } from './ring.js';
export { reweighTokens } from './reweigh.js';
export { allocateTokens, buildRing, DEFAULT_TOKENS_PER_WEIGHT, type AllocateOptions, type MemberSpec } from './allocate.js';
export { preferenceList, primaries, walkOrder, type PreferenceEntry, type PreferenceOptions } from './preference-list.js';
export { ownership, replicatedOwnership, imbalance, movedFraction } from './ownership.js';
