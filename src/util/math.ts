// Small numeric helpers shared by the learner.

/** log(sum_k exp(a[k])) over a[start..end), stable. */
export function logSumExp(a: ArrayLike<number>, start = 0, end = a.length): number {
  let m = -Infinity;
  for (let k = start; k < end; k++) if (a[k] > m) m = a[k];
  if (m === -Infinity) return -Infinity;
  let s = 0;
  for (let k = start; k < end; k++) s += Math.exp(a[k] - m);
  return m + Math.log(s);
}

/** Bits per dimension of a mean log-likelihood (nats): -ll / (D ln 2). */
export function bitsPerDim(meanLogLikelihood: number, numVars: number): number {
  return -meanLogLikelihood / (numVars * Math.LN2);
}

export function mean(a: ArrayLike<number>): number {
  let s = 0;
  for (let k = 0; k < a.length; k++) s += a[k];
  return s / a.length;
}
