// The inference queries the playground asks of a trained circuit, as one interface so the CPU engine
// (src/engines/cpu/queries.ts, the float64 reference) and the WebGPU engine (src/engines/gpu/queries.ts)
// are interchangeable.
// All three are exact for the smooth, structured-decomposable circuits this project builds:
//   marginal            log p(x_obs)                      (missing pixels summed out in one pass)
//   conditionalSurprise log p(x_i | x_{-i}) per pixel      (how surprising each pixel is given the rest)
//   sample              x ~ p(x), or x_mis ~ p(x_mis | x_obs) (ancestral sampling / inpainting)
// A GPU version must agree with the CPU one to rounding for the first two, and in distribution for
// `sample` (its random stream differs, so individual draws differ).

import type { Batch } from './engine.ts';

export type { Batch };

/** One partially observed image: `pixels` [numVars]; missing[v] = 1 marks pixel v unknown. */
export interface Evidence {
  pixels: Uint8Array;
  missing: Uint8Array;
}

export interface QueryEngine {
  /**
   * log p(observed pixels) per sample of the batch (natural log), marginalising the pixels marked
   * in `batch.missing`: exact, because the inputs of a missing pixel evaluate to 1
   * (docs/architecture.md, "Forward pass"). Batches larger than the engine's working capacity are
   * processed in chunks.
   */
  marginal(batch: Batch): Promise<Float64Array>;

  /**
   * For one image x [numVars], per pixel i: log p(x_i | x_{-i}) = log p(x) - log p(x_{-i}) (<= 0, natural
   * log). Large negative values mark pixels the model finds surprising given everything else;
   * -Infinity where the image has probability zero.
   */
  conditionalSurprise(image: Uint8Array): Promise<Float64Array>;

  /**
   * `count` independent draws, row-major [count x numVars]. Without evidence, x ~ p(x); with
   * evidence, the observed pixels are copied and the missing ones drawn from p(x_mis | x_obs)
   * (inpainting). Deterministic for a given seed: same (count, seed, evidence) -> same images, and
   * the first k draws of a larger request equal a request of k. Throws when p(x_obs) = 0.
   */
  sample(count: number, seed: number, evidence?: Evidence): Promise<Uint8Array>;
}
