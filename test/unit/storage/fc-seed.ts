/**
 * fcSeed picks the seed of a randomized test: DKV_SEED if set (to replay a failure), else a
 * fresh one. It prints the seed with the test name so every run is replayable:
 *   DKV_SEED=<seed> npx vitest run test/unit/storage -t '<name>'
 */
import { randomInt } from 'node:crypto';

export function fcSeed(name: string): number {
  const fromEnv = process.env.DKV_SEED;
  const seed = fromEnv !== undefined && fromEnv !== '' ? Number(fromEnv) : randomInt(2 ** 31 - 1);
  console.log(`[seed] ${name}: DKV_SEED=${seed}`);
  return seed;
}
