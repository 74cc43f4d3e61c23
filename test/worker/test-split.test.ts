// The training session with the visitor's own files (src/worker/session.ts, test-split.ts), driven in
// Node with the real CPU engine and the worker's own reader (readIdxImages), on 600 embedded digits at
// 14x14: the training file is read with progress and its memory stated; a test split is measured after
// every epoch and at once when it arrives for a trained model (a test file holding the validation
// images gives exactly the validation bpd); a test split of another image size is refused with one
// sentence and training goes on.

import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { Dataset } from '../../src/data/dataset.ts';
import { MAX_BROWSER_IMAGE_BYTES, readIdxImages } from '../../src/data/idx.ts';
import { splitTrainValid } from '../../src/data/split.ts';
import { CpuEngine } from '../../src/engines/cpu/engine.ts';
import type { FromWorker, PlaygroundEpochEvent, RunConfig } from '../../src/worker/protocol.ts';
import { PlaygroundSession } from '../../src/worker/session.ts';
import { embeddedSubset, idxImagesBytes } from '../helpers/data.ts';

const CONFIG: RunConfig = {
  K: 2,
  seed: 1,
  batch: 256,
  step: 0.1,
  pseudocount: 0.1,
  epochs: 2,
  roundEpochs: 1,
  rounds: 0,
  prune: 0.5,
  criterion: 'flow',
  sigma: 0.5,
  validFrac: 0.1,
  images: 0,
};

/** `d` as an IDX images file (magic 0x00000803, count, rows, cols, pixels). */
function idxFile(d: Dataset, name: string, gzip = false): File {
  const bytes = idxImagesBytes(d.pixels, d.count, d.rows, d.cols);
  return new File([gzip ? new Uint8Array(gzipSync(bytes)) : bytes], name);
}

type Msg<T extends FromWorker['type']> = Extract<FromWorker, { type: T }>;

function harness() {
  const messages: FromWorker[] = [];
  const hooks: Array<(m: FromWorker) => void> = [];
  const session = new PlaygroundSession({
    post: (m) => {
      messages.push(m);
      for (const h of hooks.slice()) h(m);
    },
    createEngine: async () => ({ engine: new CpuEngine({ threads: 1, precision: 'float32' }) }),
    // What the browser's training worker does with a dropped file (training-worker.ts).
    loadDataset: (src, onProgress) => {
      if (src.kind !== 'idx') throw new Error('these tests use files only');
      return readIdxImages(src.images, src.images.name, { onProgress, maxBytes: MAX_BROWSER_IMAGE_BYTES });
    },
    sleep: () => new Promise((resolve) => setImmediate(resolve)),
  });
  const next = <T extends FromWorker['type']>(...types: T[]): Promise<Msg<T>> =>
    new Promise((resolve) => {
      const h = (m: FromWorker): void => {
        if ((types as string[]).includes(m.type)) {
          hooks.splice(hooks.indexOf(h), 1);
          resolve(m as Msg<T>);
        }
      };
      hooks.push(h);
    });
  const all = <T extends FromWorker['type']>(type: T): Array<Msg<T>> => messages.filter((m): m is Msg<T> => m.type === type);
  const init = async (file: File, config = CONFIG): Promise<Msg<'snapshot' | 'error'>> => {
    const done = next('snapshot', 'error');
    session.handle({ type: 'init', dataset: { kind: 'idx', images: file }, config: { ...config }, engine: 'cpu' });
    return done;
  };
  const epoch = async (): Promise<PlaygroundEpochEvent> => {
    const ev = next('event');
    const idle = next('idle');
    session.handle({ type: 'step', unit: 'epoch' });
    const e = (await ev).event;
    await idle;
    if (e.event !== 'epoch') throw new Error('expected an epoch event');
    return e;
  };
  return { session, messages, next, all, init, epoch };
}

/** Every other row and column of `d`'s 28x28 images: 14x14 digits, so each model's HCLT builds in a blink. */
function halfSize(d: Dataset): Dataset {
  const pixels = new Uint8Array(d.count * 196);
  for (let i = 0; i < d.count; i++) for (let r = 0; r < 14; r++) for (let c = 0; c < 14; c++) pixels[i * 196 + r * 14 + c] = d.pixels[i * 784 + r * 56 + c * 2];
  return { ...d, numVars: 196, rows: 14, cols: 14, pixels };
}

describe('the training session with dropped files', async () => {
  const digits = halfSize(await embeddedSubset(600));
  const trainFile = idxFile(digits, 'digits-600-images-idx3-ubyte.gz', true);
  // The validation images of CONFIG's split as a file: its bpd must be the validation bpd exactly
  // (the same images, chunks and summation order).
  const validImages = splitTrainValid(digits, CONFIG.validFrac, CONFIG.seed).valid!;
  const testFile = idxFile(validImages, 't10k-images-idx3-ubyte');

  it('reads the training file with progress, states the images it holds, and measures the test split after every epoch', async () => {
    const h = harness();
    const read = h.next('testSplit');
    h.session.handle({ type: 'testSplit', file: testFile });
    expect(await read).toEqual({ type: 'testSplit', name: 't10k-images-idx3-ubyte', count: 60, bpd: null });
    expect((await h.init(trainFile)).type).toBe('snapshot');
    // Progress in bytes of each file read, ending at its size.
    const loads = h.all('progress').filter((p) => p.task === 'load' && p.total > 1);
    expect(loads.filter((p) => p.total === trainFile.size).at(-1)?.done).toBe(trainFile.size);
    expect(loads.filter((p) => p.total === testFile.size).at(-1)?.done).toBe(testFile.size);
    // The HCLT's pair statistics report progress too: up to all 196 x 195 / 2 pixel pairs.
    const build = h.all('progress').filter((p) => p.task === 'build' && p.total > 1);
    expect(build.length).toBeGreaterThan(10);
    expect(build.every((p, i) => p.total === 19_110 && (i === 0 || p.done > build[i - 1].done))).toBe(true);
    expect(build.at(-1)!.done).toBe(19_110);
    const info = h.all('ready').at(-1)!.info;
    expect([info.trainCount, info.validCount]).toEqual([540, 60]);
    expect(info.dataBytes).toBe((540 + 60 + 60) * 196);
    const events = [await h.epoch(), await h.epoch()];
    for (const e of events) {
      expect(e.valid_bpd).toBeGreaterThan(0);
      expect(e.test_bpd).toBe(e.valid_bpd);
    }
    expect(events[1].test_bpd!).toBeLessThan(events[0].test_bpd!);
    // Measured with progress over the test images.
    expect(
      h
        .all('progress')
        .filter((p) => p.task === 'test')
        .at(-1),
    ).toMatchObject({ done: 60, total: 60 });
  });

  it('measures a test split dropped onto a trained model at once, counts its images, and refuses one of another image size', async () => {
    const h = harness();
    await h.init(trainFile);
    expect(h.all('ready').at(-1)!.info.dataBytes).toBe(600 * 196);
    const e = await h.epoch();
    expect(e.test_bpd).toBeUndefined();
    const measured = h.next('testSplit');
    h.session.handle({ type: 'testSplit', file: testFile });
    expect(await measured).toEqual({ type: 'testSplit', name: 't10k-images-idx3-ubyte', count: 60, bpd: e.valid_bpd });
    expect(h.all('ready').at(-1)!.info.dataBytes).toBe(660 * 196);
    // Dropped again (null): gone from the memory figure.
    const ready = h.next('ready');
    h.session.handle({ type: 'testSplit', file: null });
    expect((await ready).info.dataBytes).toBe(600 * 196);
    // Images of another size: one sentence, the split is forgotten, and training goes on without it.
    const small: Dataset = { name: 'x', count: 5, numVars: 100, numValues: 256, rows: 10, cols: 10, pixels: new Uint8Array(500) };
    const refused = h.next('testSplitError');
    h.session.handle({ type: 'testSplit', file: idxFile(small, 'test-10x10-images.idx') });
    expect(await refused).toEqual({
      type: 'testSplitError',
      name: 'test-10x10-images.idx',
      message:
        "test-10x10-images.idx holds images of 10x10 pixels but the training data (digits-600-images-idx3-ubyte.gz) has 14x14: a test split must have the training data's image size.",
    });
    expect((await h.epoch()).test_bpd).toBeUndefined();
    expect(h.all('error')).toEqual([]);
  });
});
