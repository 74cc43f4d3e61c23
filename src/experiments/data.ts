// How an experiment's data is cut (pure, shared by the CLI and the page's worker): optionally hold out
// a seeded slice of the pool as the test set (when the official test split is not used), split the
// rest into training and validation by seed, then take seeded subsets where a size asks for fewer
// images (quick and live sizes; evaluation slices). Subsets are taken after shuffling, never the
// first N rows, because the embedded digits are grouped by class.

import { subset, type Dataset } from '../data/dataset.ts';
import { splitTrainValid } from '../data/split.ts';
import { UserError } from '../util/errors.ts';
import { Rng } from '../util/rng.ts';
import type { ExperimentData } from './types.ts';

export interface DataPlan {
  seed: number;
  validFrac: number;
  /** Training images to keep after the split (0: all). */
  trainCount: number;
  /** Validation images to keep after the split (0: all). */
  validCount: number;
  /** Test images, a seeded subset (0: all). */
  testCount: number;
  /** Images of the pool held out as the test set when no test set is given. */
  holdout: number;
}

/** `count` rows of `d` chosen by a seeded shuffle (all of them, in shuffled order, when count is 0 or >= d.count). */
export function seededSubset(d: Dataset, count: number, seed: number, name = d.name): Dataset {
  const order = new Rng(seed).shuffle(Int32Array.from({ length: d.count }, (_, i) => i));
  const n = count > 0 ? Math.min(count, d.count) : d.count;
  return subset(d, order.subarray(0, n), name);
}

/**
 * Cuts `pool` (and `test`, when given) per the plan. Without a test set the first `plan.holdout`
 * rows of a seeded shuffle of the pool become the test set and take no part in training or validation.
 */
export function prepareExperimentData(pool: Dataset, test: Dataset | null, plan: DataPlan, testName: string): ExperimentData {
  let rest = pool;
  let testSet: Dataset;
  let testSource: string;
  if (test) {
    if (test.numVars !== pool.numVars || test.numValues !== pool.numValues) {
      throw new UserError(`the test images (${test.name}) are ${test.rows}x${test.cols}, but the training images are ${pool.rows}x${pool.cols}.`);
    }
    testSet = plan.testCount > 0 ? seededSubset(test, plan.testCount, plan.seed ^ 0x7e57, `${test.name} (subset)`) : test;
    testSource = testName + (testSet.count < test.count ? ` (a seeded subset of ${testSet.count} of its ${test.count} images)` : ` (all ${test.count} images)`);
  } else {
    if (plan.holdout <= 0 || plan.holdout >= pool.count) {
      throw new UserError(`holding out ${plan.holdout} of ${pool.count} images as the test set leaves an empty test or training set.`);
    }
    const order = new Rng(plan.seed ^ 0x401d).shuffle(Int32Array.from({ length: pool.count }, (_, i) => i));
    testSet = subset(pool, order.subarray(0, plan.holdout), `${pool.name} (held-out test)`);
    rest = subset(pool, order.subarray(plan.holdout), pool.name);
    if (plan.testCount > 0 && plan.testCount < testSet.count) testSet = seededSubset(testSet, plan.testCount, plan.seed ^ 0x7e57, testSet.name);
    testSource = `${testSet.count} embedded digits held out from training and validation (${testName})`;
  }
  const split = splitTrainValid(rest, plan.validFrac, plan.seed);
  const train =
    plan.trainCount > 0 && plan.trainCount < split.train.count ? seededSubset(split.train, plan.trainCount, plan.seed ^ 0x7a1, split.train.name) : split.train;
  const valid =
    split.valid && plan.validCount > 0 && plan.validCount < split.valid.count
      ? seededSubset(split.valid, plan.validCount, plan.seed ^ 0x7a2, split.valid.name)
      : split.valid;
  const trainSource = `${pool.name}: ${train.count} for training, ${valid?.count ?? 0} for validation`;
  return { train, valid, test: testSet, testSource, trainSource };
}
