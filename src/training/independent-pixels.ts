// The independent-pixel baseline: one categorical distribution per pixel, p(x) = prod_v p_v(x_v),
// fitted by counting with a pseudocount a (p_v(x) = (n_v(x) + a / V) / (N + a)). Any circuit EM
// trains on the same data should end below its bpd: an HCLT contains it (a single latent state), so a
// learner that cannot beat it is broken, not unlucky.

import type { Dataset } from '../data/dataset.ts';
import { bitsPerDim } from '../util/math.ts';

/** bpd on `data` of the independent-pixel model fitted on `train`. */
export function independentPixelsBpd(train: Dataset, data: Dataset, pseudocount = 0.1): number {
  const D = train.numVars;
  const V = train.numValues;
  const counts = new Float64Array(D * V);
  for (let s = 0; s < train.count; s++) for (let v = 0; v < D; v++) counts[v * V + train.pixels[s * D + v]]++;
  const logp = Float64Array.from(counts, (n) => Math.log((n + pseudocount / V) / (train.count + pseudocount)));
  let ll = 0;
  for (let s = 0; s < data.count; s++) for (let v = 0; v < D; v++) ll += logp[v * V + data.pixels[s * D + v]];
  return bitsPerDim(ll / data.count, D);
}
