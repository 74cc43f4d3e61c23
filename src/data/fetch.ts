// Browser (and worker) loading of the embedded digits: fetch the file next to the page, decode it,
// and turn network failures into one sentence.
import { UserError } from '../util/errors.ts';
import type { Dataset } from './dataset.ts';
import { EMBEDDED_DATA_FILE, decodeEmbeddedDataset } from './embedded.ts';

/** URL of the embedded data file for a page at `base` (document.baseURI). */
export function embeddedDataUrl(base: string): string {
  return new URL(`data/${EMBEDDED_DATA_FILE}`, base).href;
}

export async function fetchEmbeddedDataset(url: string): Promise<Dataset> {
  const what = `the training data (${EMBEDDED_DATA_FILE})`;
  let response: Response;
  try {
    response = await fetch(url);
  } catch (e) {
    throw new UserError(`Could not download ${what}: ${e instanceof Error ? e.message : String(e)}.`);
  }
  if (!response.ok) throw new UserError(`Could not download ${what}: HTTP ${`${response.status} ${response.statusText}`.trim()}.`);
  return decodeEmbeddedDataset(new Uint8Array(await response.arrayBuffer()));
}
