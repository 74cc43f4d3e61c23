// Train / validation split: a seeded shuffle of row indices, so the same seed gives the same split
// (shared links and CLI runs reproduce). Validation takes the first round(validFrac * count) shuffled
// rows, training the rest in shuffled order (which also mixes class-grouped data such as the embedded set).

import { subset, type Dataset } from './dataset.ts';
import { UserError } from '../util/errors.ts';
import { Rng } from '../util/rng.ts';

export function splitTrainValid(d: Dataset, validFrac: number, seed: number): { train: Dataset; valid: Dataset | null } {
  if (!Number.isFinite(validFrac) || validFrac < 0 || validFrac >= 1) {
    throw new UserError(`validation fraction must be in [0, 1), got ${validFrac}.`);
  }
  const order = new Uint32Array(d.count);
  for (let i = 0; i < d.count; i++) order[i] = i;
  new Rng(seed).shuffle(order);
  const nValid = Math.round(validFrac * d.count);
  if (nValid >= d.count) {
    throw new UserError(`validation fraction ${validFrac} of ${d.count} images leaves none for training.`);
  }
  const train = subset(d, order.subarray(nValid), `${d.name} (train)`);
  const valid = nValid > 0 ? subset(d, order.subarray(0, nValid), `${d.name} (validation)`) : null;
  return { train, valid };
}

/** The playground's split (the session's, the demo model's): the first `images` images (0: all),
 *  then the seeded train / validation split of those. */
export function splitFirstImages(d: Dataset, images: number, validFrac: number, seed: number): { train: Dataset; valid: Dataset | null } {
  const used =
    images > 0 && images < d.count
      ? subset(
          d,
          Int32Array.from({ length: images }, (_, i) => i),
        )
      : d;
  return splitTrainValid(used, validFrac, seed);
}
