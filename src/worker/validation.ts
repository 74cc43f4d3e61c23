// What the training worker accepts from the page, checked before any work: run settings (against the
// one table of setting ranges, training/settings.ts), images and masks, numbers of draws and seeds;
// and how failures become the one sentence the visitor reads. Pure: no engine, no DOM.

import { PRUNE_CRITERIA } from '../circuit/prune.ts';
import { SETTING_RANGES, settingProblem, type SettingName } from '../training/settings.ts';
import { DEFAULT_TRAIN_CONFIG, type TrainConfig } from '../training/trainer.ts';
import { isUserError, UserError } from '../util/errors.ts';
import type { RunConfig } from './protocol.ts';

/** Largest number of images one samples / inpaint query draws. */
export const MAX_DRAWS = 256;

/** One sentence ending in a full stop. */
export function sentence(text: string): string {
  const t = text.trim();
  return /[.!?]$/.test(t) ? t : `${t}.`;
}

/** A failure as one sentence for the visitor: a UserError's own, else `prefix: first line`. */
export function describeError(e: unknown, prefix: string): string {
  if (isUserError(e)) return sentence(e.message);
  const msg = e instanceof Error ? e.message : String(e);
  return sentence(`${prefix}: ${msg.split('\n')[0]}`);
}

/** Checks the fields of a (partial) run configuration against the playground's ranges
 *  (training/settings.ts, the table the URL schema and the CLI read too); a bad one is one UserError sentence. */
export function checkRunConfig(c: Partial<RunConfig>): void {
  for (const name of Object.keys(SETTING_RANGES) as SettingName[]) {
    const v = c[name];
    if (v === undefined) continue;
    const problem = settingProblem(name, v, 'browser');
    if (problem) throw new UserError(`The setting ${name} ${problem}, got ${String(v)}.`);
  }
  if (c.criterion !== undefined && !(PRUNE_CRITERIA as readonly string[]).includes(c.criterion)) {
    throw new UserError(`The setting criterion must be one of ${PRUNE_CRITERIA.join(', ')}, got ${String(c.criterion)}.`);
  }
}

/** The Trainer's configuration for a run (mini-batch EM; patience never stops a round early). */
export function toTrainConfig(c: RunConfig): TrainConfig {
  return {
    ...DEFAULT_TRAIN_CONFIG,
    K: c.K,
    seed: c.seed,
    epochs: c.epochs,
    batch: c.batch,
    step: c.step,
    pseudocount: c.pseudocount,
    fullBatch: false,
    rounds: c.rounds,
    prune: c.prune,
    criterion: c.criterion,
    sigma: c.sigma,
    roundEpochs: c.roundEpochs,
    patience: Infinity,
  };
}

/** A D-pixel image (or mask) from the page, every value below `limit`. */
export function checkImage(what: string, pixels: unknown, D: number, limit: number): Uint8Array {
  if (!(pixels instanceof Uint8Array) || pixels.length !== D) {
    const got = pixels instanceof Uint8Array ? `${pixels.length} values` : 'no byte array';
    throw new UserError(`The ${what} must have ${D} values (one per pixel), got ${got}.`);
  }
  for (let v = 0; v < D; v++) {
    if (pixels[v] >= limit) throw new UserError(`The ${what} has value ${pixels[v]} at pixel ${v}, but the largest allowed is ${limit - 1}.`);
  }
  return pixels;
}

/** A number of images to draw and a sampling seed. */
export function checkDraws(count: unknown, seed: unknown): void {
  if (!(typeof count === 'number' && Number.isInteger(count) && count >= 1 && count <= MAX_DRAWS)) {
    throw new UserError(`The number of images to draw must be a whole number from 1 to ${MAX_DRAWS}, got ${String(count)}.`);
  }
  if (!(typeof seed === 'number' && Number.isInteger(seed) && seed >= 0 && seed <= 2 ** 32 - 1)) {
    throw new UserError(`The sampling seed must be a whole number from 0 to ${2 ** 32 - 1}, got ${String(seed)}.`);
  }
}
