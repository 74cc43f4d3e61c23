// Files the visitor drops on the page or picks as data: the training images or the test split. Only
// the header is read here (the first few KiB, asynchronously), to refuse at once a file that is not
// IDX images or that is larger than the tab can hold, before anything changes (the current data and
// model stay). The accepted file goes to the training worker as a File handle, and the worker reads
// and decodes it there with progress (docs/architecture.md, "Data"), so the page never freezes.

import { imagesOverLimit, MAX_BROWSER_IMAGE_BYTES, peekIdxImagesHeader } from '../data/idx.ts';
import { modelLocked, type PlaygroundStore } from './store.ts';

export type DataRole = 'train' | 'test';

/**
 * Whether a file's name marks it as a test split: it starts with `t10k` (MNIST's and Fashion-MNIST's
 * test files) or has `test` as a word of its own (EMNIST's `emnist-letters-test-images-idx3-ubyte`,
 * `fashion_test.gz`), but not inside another word (`contest`).
 */
export function isTestSplitName(name: string): boolean {
  return /(^|[^a-z])(t10k|test)/i.test(name);
}

/** The role a dropped file takes: a test split by its name, else the training images. */
export function roleOfDroppedFile(name: string): DataRole {
  return isTestSplitName(name) ? 'test' : 'train';
}

/**
 * Uses `file` as the training images or the test split, after checking its header and size; a file
 * that cannot be used gets one sentence (a notice) and changes nothing.
 */
export async function chooseDataFile(store: PlaygroundStore, file: File, role: DataRole): Promise<void> {
  const notify = store.getState().notify;
  let header;
  try {
    header = await peekIdxImagesHeader(file, file.name);
  } catch (e) {
    return notify(e instanceof Error ? e.message : String(e));
  }
  const tooLarge = imagesOverLimit(header, file.name, MAX_BROWSER_IMAGE_BYTES);
  if (tooLarge) return notify(tooLarge);
  const s = store.getState();
  if (role === 'test') return s.setTestData(file);
  if (modelLocked(s)) return notify(`To train on ${file.name}, press Reset first (the current model was built from other data).`);
  s.setUserData(file);
}
