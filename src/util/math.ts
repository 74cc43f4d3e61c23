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

const POW2 = Float64Array.from({ length: 1100 }, (_, i) => 2 ** (i - 1075));
const LN2_HI = 0.6931471803691238; // high bits of ln 2 (Cody-Waite split: k * LN2_HI is exact)
const LN2_LO = 1.9082149292705877e-10;

/**
 * exp(d) for d <= 0 to about 1e-8 relative, in plain double arithmetic: d = k ln2 + r with
 * |r| <= ln2/2, e^r by its degree-7 Taylor polynomial (error < r^8/8! < 6e-9), times 2^k from a
 * table. Used where results are stored as float32 (relative precision 6e-8): about three times
 * faster than Math.exp in V8, and bit-identical on every JavaScript engine, unlike Math.exp.
 * Returns 0 below -745 (where the double result would underflow anyway).
 */
export function expNonPositive(d: number): number {
  if (!(d > -745)) return 0;
  const k = Math.round(d * 1.4426950408889634);
  const r = d - k * LN2_HI - k * LN2_LO;
  const p = 1 + r * (1 + r * (0.5 + r * (1 / 6 + r * (1 / 24 + r * (1 / 120 + r * (1 / 720 + r * (1 / 5040)))))));
  return p * POW2[k + 1075];
}
