// A dataset of discrete images: `count` rows of `numVars` pixels, each a value in [0, numValues).

export interface Dataset {
  /** Where it came from, for messages ("embedded MNIST", a file name). */
  name: string;
  count: number;
  numVars: number;
  numValues: number;
  /** Image height and width (rows * cols = numVars). */
  rows: number;
  cols: number;
  /** Row-major pixels, count x numVars. */
  pixels: Uint8Array;
  /** Class labels when known (length count). */
  labels?: Uint8Array;
}

/** The rows `indices` of `d` as a new dataset. */
export function subset(d: Dataset, indices: ArrayLike<number>, name = d.name): Dataset {
  const D = d.numVars;
  const pixels = new Uint8Array(indices.length * D);
  const labels = d.labels ? new Uint8Array(indices.length) : undefined;
  for (let i = 0; i < indices.length; i++) {
    const r = indices[i];
    pixels.set(d.pixels.subarray(r * D, (r + 1) * D), i * D);
    if (labels && d.labels) labels[i] = d.labels[r];
  }
  return { ...d, name, count: indices.length, pixels, labels };
}
