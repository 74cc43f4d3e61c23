// The playground's test split: an IDX images file the visitor drops next to the training data (e.g.
// Fashion-MNIST's t10k-images-idx3-ubyte.gz). Never trained on and never used to choose anything: its
// bpd is measured after every epoch (one forward pass over its images, at the epoch's end, not per
// mini-batch) and once when it arrives for a model that already exists. The training session
// (session.ts) owns one and asks it for the bpd; loading runs beside training (it is file reading and
// gunzipping, not engine work), while the measurement waits for a mini-batch boundary like a query.

import type { Dataset } from '../data/dataset.ts';
import type { Engine } from '../engines/engine.ts';
import { batchesOf } from '../training/trainer.ts';
import { bitsPerDim } from '../util/math.ts';
import { describeError } from './validation.ts';
import type { FromWorker } from './protocol.ts';

/** Images per forward pass of the measurement (as the Trainer's validation). */
const TEST_CHUNK = 2048;

export interface TestSplitDeps {
  /** Reads the file (readIdxImages in the worker), reporting progress in bytes. */
  load(file: File, onProgress: (done: number, total: number) => void): Promise<Dataset>;
  post(msg: FromWorker): void;
  /** Progress of the file being read (throttled by the session). */
  loadProgress(): (done: number, total: number) => void;
  /** Whether a model exists now (a split that arrives for one is measured at once). */
  hasModel(): boolean;
  /** Called when a test split has been read for an existing model (the session measures it between mini-batches). */
  loaded(): void;
}

/** Why `test` cannot be the test split of a model trained on images like `train`, or null. */
export function testShapeProblem(test: Dataset, train: Pick<Dataset, 'name' | 'rows' | 'cols' | 'numValues'>): string | null {
  if (test.rows === train.rows && test.cols === train.cols && test.numValues === train.numValues) return null;
  return `${test.name} holds images of ${test.rows}x${test.cols} pixels but the training data (${train.name}) has ${train.rows}x${train.cols}: a test split must have the training data's image size.`;
}

export class TestSplit {
  private readonly deps: TestSplitDeps;
  private file: File | null = null;
  private data: Dataset | null = null;
  /** Bumped by every `set`: a load begun for an older file is dropped. */
  private version = 0;
  /** A measurement is owed for the current model (the split arrived while it existed). */
  owed = false;

  constructor(deps: TestSplitDeps) {
    this.deps = deps;
  }

  /** The loaded test images, or null (none chosen, or still being read). */
  get dataset(): Dataset | null {
    return this.data;
  }

  /** Bytes of the loaded test images (one per pixel). */
  get bytes(): number {
    return this.data?.pixels.byteLength ?? 0;
  }

  /** Chooses a test split (null: none) and starts reading it. */
  set(file: File | null): void {
    const version = ++this.version;
    this.file = file;
    this.data = null;
    this.owed = false;
    if (file) void this.read(file, version);
  }

  private async read(file: File, version: number): Promise<void> {
    let data: Dataset;
    try {
      data = await this.deps.load(file, this.deps.loadProgress());
    } catch (e) {
      if (version === this.version) this.reject(describeError(e, `The test split ${file.name} could not be read`));
      return;
    }
    if (version !== this.version) return;
    this.data = data;
    if (!this.deps.hasModel()) return this.report(data, null); // measured after the first epoch
    this.owed = true;
    this.deps.loaded();
  }

  /** Forgets the split with a sentence for the visitor. */
  reject(message: string): void {
    const name = this.file?.name ?? 'the test split';
    this.set(null);
    this.deps.post({ type: 'testSplitError', name, message });
  }

  /**
   * Checks the loaded split against the training data; forgets it (with the sentence) when the image
   * sizes differ. Returns whether a usable split is loaded.
   */
  fits(train: Pick<Dataset, 'name' | 'rows' | 'cols' | 'numValues'>): boolean {
    if (!this.data) return false;
    const problem = testShapeProblem(this.data, train);
    if (problem) this.reject(problem);
    return problem === null;
  }

  /** bpd of the current parameters on the test images, with progress (task 'test'); null without a split. */
  async measure(engine: Engine): Promise<{ data: Dataset; bpd: number } | null> {
    const data = this.data;
    if (!data) return null;
    this.owed = false;
    let sum = 0;
    let done = 0;
    this.deps.post({ type: 'progress', task: 'test', done, total: data.count });
    for (const b of batchesOf(data, null, TEST_CHUNK)) {
      const ll = await engine.logLikelihood(b);
      for (let k = 0; k < ll.length; k++) sum += ll[k];
      done += b.count;
      this.deps.post({ type: 'progress', task: 'test', done, total: data.count });
    }
    return { data, bpd: bitsPerDim(sum / data.count, data.numVars) };
  }

  /** The `testSplit` message for `data` (when it is still the chosen split) and its bpd (null: not measured). */
  report(data: Dataset, bpd: number | null): void {
    if (data === this.data) this.deps.post({ type: 'testSplit', name: data.name, count: data.count, bpd });
  }
}
