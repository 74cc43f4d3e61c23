// Files the visitor drops or picks (src/ui/data-files.ts) and the store's test split (src/ui/store.ts),
// driven by a fake worker: which names make a test split, the header and size checks that refuse a
// file in one sentence while changing nothing, what goes to the worker and when, and how the test
// split's messages and the epochs' test bpd become state.

import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { EpochEvent } from '../../src/training/trainer.ts';
import { chooseDataFile, isTestSplitName, roleOfDroppedFile } from '../../src/ui/data-files.ts';
import { createPlaygroundStore } from '../../src/ui/store.ts';
import type { ModelInfo, ToWorker } from '../../src/worker/protocol.ts';
import { idxImagesBytes } from '../helpers/data.ts';
import { FakeWorker } from '../helpers/fake-worker.ts';

const INFO: ModelInfo = {
  backend: 'CPU',
  engine: 'cpu',
  gpuBytes: 0,
  dataBytes: 100 * 784,
  edges: 10,
  params: 20,
  K: 2,
  trainCount: 90,
  validCount: 10,
  datasetName: 'x',
};

function setup() {
  const workers: FakeWorker[] = [];
  const store = createPlaygroundStore({
    spawnWorker: () => {
      const w = new FakeWorker();
      workers.push(w);
      return w;
    },
    dataUrl: 'http://x/data.bin',
  });
  return { store, workers };
}

/** An IDX images file whose header announces `count` images of 28x28 (with `present` images of data). */
function imagesFile(name: string, count: number, present = Math.min(count, 3), gzip = false): File {
  const bytes = idxImagesBytes(new Uint8Array(present * 784), count);
  return new File([gzip ? new Uint8Array(gzipSync(bytes)) : bytes], name);
}

const epoch = (valid: number, test?: number): EpochEvent & { test_bpd?: number } => ({
  event: 'epoch',
  round: 0,
  epoch: 1,
  train_bpd: valid + 0.1,
  valid_bpd: valid,
  ...(test === undefined ? {} : { test_bpd: test }),
  seconds: 1,
  samples_per_s: 90,
  edges: 10,
  params: 20,
});

describe('dropped data files', () => {
  it('takes t10k-* and *test* names as the test split, not words that merely contain "test"', () => {
    for (const name of ['t10k-images-idx3-ubyte.gz', 'T10K-IMAGES.IDX3-UBYTE', 'emnist-letters-test-images-idx3-ubyte.gz', 'fashion_test.gz', 'test.gz'])
      expect(roleOfDroppedFile(name), name).toBe('test');
    for (const name of ['train-images-idx3-ubyte.gz', 'contest-images.gz', 'latest-images-idx3-ubyte', 'my-digits-idx3-ubyte'])
      expect(isTestSplitName(name), name).toBe(false);
  });

  it('refuses a file too large for the tab or not IDX images in one sentence, changing nothing', async () => {
    const { store } = setup();
    await chooseDataFile(store, imagesFile('huge-images-idx3-ubyte.gz', 2_000_000, 3, true), 'train');
    await chooseDataFile(store, new File([new Uint8Array([0, 0, 8, 1, 0, 0, 0, 1, 7])], 'train-labels-idx1-ubyte'), 'train');
    await chooseDataFile(store, imagesFile('t10k-huge.gz', 1_500_000, 3, true), 'test');
    const s = store.getState();
    expect(s.notices).toEqual([
      'huge-images-idx3-ubyte.gz holds 2,000,000 images of 28x28 (1.46 GiB decoded), more than the 1.00 GiB of images the playground keeps in a tab (1,369,568 such images), so it was not loaded.',
      'train-labels-idx1-ubyte is an IDX labels file (magic 0x00000801), not an images file: pass the *-images-idx3-ubyte file instead.',
      't10k-huge.gz holds 1,500,000 images of 28x28 (1.10 GiB decoded), more than the 1.00 GiB of images the playground keeps in a tab (1,369,568 such images), so it was not loaded.',
    ]);
    expect([s.userData, s.testData]).toEqual([null, null]);
  });

  it('sends the test split to the worker before init, or at once to a worker with a model; epochs and its messages set the test bpd', async () => {
    const { store, workers } = setup();
    const test = imagesFile('t10k-images-idx3-ubyte', 10_000);
    await chooseDataFile(store, test, 'test');
    expect(store.getState().testData).toBe(test);
    expect(workers).toHaveLength(0); // nothing to send it to yet
    const train = imagesFile('train-images-idx3-ubyte', 60_000);
    await chooseDataFile(store, train, 'train');
    expect(store.getState().userData).toBe(train);
    store.getState().step('batch');
    const w = workers[0];
    expect(w.sent.map((m) => m.type)).toEqual(['speed', 'testSplit', 'init', 'step']);
    expect(w.sent[1]).toEqual({ type: 'testSplit', file: test });
    expect((w.sent[2] as Extract<ToWorker, { type: 'init' }>).dataset).toEqual({ kind: 'idx', images: train });
    w.emit({ type: 'testSplit', name: test.name, count: 10_000, bpd: null });
    w.emit({ type: 'ready', info: INFO });
    expect(store.getState()).toMatchObject({ testSplit: { name: test.name, count: 10_000 }, testBpd: null });
    w.emit({ type: 'event', event: epoch(3.1, 3.2) });
    expect(store.getState().testBpd).toBe(3.2);
    // With a model, training data waits for Reset but a new test split goes straight to the worker.
    await chooseDataFile(store, imagesFile('other-images', 50), 'train');
    expect(store.getState().notices.at(-1)).toBe('To train on other-images, press Reset first (the current model was built from other data).');
    const other = imagesFile('fashion_test.gz', 2_000);
    await chooseDataFile(store, other, roleOfDroppedFile(other.name));
    expect(w.sent.at(-1)).toEqual({ type: 'testSplit', file: other });
    expect(store.getState().testBpd).toBeNull();
    w.emit({ type: 'testSplit', name: other.name, count: 2_000, bpd: 3.25 });
    expect(store.getState().testBpd).toBe(3.25);
    // Refused by the worker (another image size): forgotten, with its sentence.
    w.emit({ type: 'testSplitError', name: other.name, message: 'fashion_test.gz holds images of 32x32 pixels but ...' });
    expect(store.getState()).toMatchObject({ testData: null, testSplit: null, testBpd: null });
    expect(store.getState().notices.at(-1)).toBe('fashion_test.gz holds images of 32x32 pixels but ...');
  });
});
