/**
 * The history checkers of TESTING.md's fault matrix: record a history with HistoryRecorder,
 * read the final state after healing, then run the checkers and summarize. All are pure.
 */
export * from './history.js';
export { CausalIndex } from './causal.js';
export { checkNoLostWrites, type LostWritesOptions, type LostWritesStats } from './no-lost-writes.js';
export { checkNoPhantoms, type PhantomStats } from './no-phantoms.js';
export { checkNoDominatedSiblings, type DominatedStats } from './no-dominated-siblings.js';
export {
  checkConvergence,
  type ConvergenceOptions,
  type ConvergenceStats,
  type ReplicaDump,
  type ReplicaDumps,
} from './convergence.js';
export {
  checkStrictReads,
  checkStrictWriteQuorum,
  staleReadFraction,
  type QuorumModel,
  type StrictWriteStats,
  type ReadCheckOptions,
  type StaleReadStats,
  type StrictReadStats,
} from './strict-reads.js';
export { checkSiblingBound, type SiblingBoundStats } from './sibling-bound.js';
export { checkWatchCompleteness, type WatchEvent, type WatchOptions, type WatchStats } from './watch-completeness.js';
export { summarize, type SummaryCheck, type SummaryJson, type SummaryOptions } from './summarize.js';
