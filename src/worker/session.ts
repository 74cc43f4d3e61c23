// The playground's training session: everything the training worker does, as a plain class with its
// dependencies passed in (post a message, make an engine, load a dataset, sleep), so the same code runs
// in the browser's Web Worker (src/worker/training-worker.ts) and in Node tests with the CPU engine.
// The message contract is src/worker/protocol.ts.
//
// Order of work. Every message goes through `handle`; work that touches the engine runs one piece at a
// time from a queue (init, play, step; queries are served first). Training runs mini-batch by
// mini-batch with an `await` on `sleep` between batches, which is where a worker reads its next
// messages: a pause stops play at the next batch boundary (the epoch stays half done and resumes
// there), queries are answered there, and `slow` speed waits there. The arithmetic is the Trainer's
// (`beginEpoch` / `trainBatch` / `endEpoch`, `scorePrune` / `applyPrune`, `grow`) in the CLI's order
// (`Trainer.run`), so results do not depend on speed, pauses or queries. Two differences from the
// CLI's schedule, on purpose: every configured round runs (no early stop: the visitor asked for them),
// and the final circuit stays loaded rather than the best round's (the views show what was trained).

import type { CompiledCircuit } from '../circuit/compile.ts';
import { exportJpc, importJpc } from '../circuit/formats/jpc.ts';
import { decodeSpc, encodeSpc } from '../circuit/formats/spc.ts';
import { buildHclt, treeEdgeInformation } from '../circuit/hclt.ts';
import { countNodes, countParams, latentStates, type Circuit } from '../circuit/structure.ts';
import type { Dataset } from '../data/dataset.ts';
import { splitFirstImages } from '../data/split.ts';
import type { EngineHandle } from '../engines/engine.ts';
import { Trainer, type EpochEvent, type PrunePlan, type TrainerProgress } from '../training/trainer.ts';
import { UserError } from '../util/errors.ts';
import { bitsPerDim } from '../util/math.ts';
import { binOf, histogramOf } from './histogram.ts';
import type { FlowRecord, Model } from './model.ts';
import { edgeInformation, HISTOGRAM_BINS, ModelQueries } from './queries.ts';
import { TestSplit } from './test-split.ts';
import { checkRunConfig, describeError, sentence, toTrainConfig } from './validation.ts';
import type {
  CircuitSnapshot,
  DatasetSource,
  DroppedFile,
  EnginePreference,
  FromWorker,
  ModelInfo,
  PlaygroundEpochEvent,
  PrunePreview,
  Query,
  QueryResult,
  Speed,
  StepUnit,
  ToWorker,
} from './protocol.ts';

export interface SessionDeps {
  /** Sends a message to the page (the worker's postMessage; a recorder in tests). */
  post(msg: FromWorker): void;
  /** Makes the engine for a run; `onNotice` takes sentences for the visitor (no WebGPU, a GPU failure). */
  createEngine(pref: EnginePreference, onNotice: (message: string) => void): Promise<EngineHandle>;
  /** Reads the data; for a file, `onProgress` gets the bytes read so far and the file's size. */
  loadDataset(src: DatasetSource, onProgress?: (done: number, total: number) => void): Promise<Dataset>;
  /** Waits `ms` (0: just lets queued messages run). Default: setTimeout. */
  sleep?(ms: number): Promise<void>;
}

/** Pause between mini-batches at `slow` speed, so each update can be watched. */
export const SLOW_BATCH_MS = 300;
/** How long a prune preview shows before the edges go, by speed. */
export const PREVIEW_HOLD_MS: Record<Speed, number> = { slow: 2500, normal: 1200, fast: 300 };
/** Snapshots' flows come from at most this many training images: enough for the views' shading,
 *  cheap next to an epoch (one forward + backward over them). */
export const SNAPSHOT_FLOW_IMAGES = 1000;
/** Settings a `configure` message may change between steps. */
const CONFIGURABLE = ['batch', 'step', 'pseudocount', 'epochs', 'roundEpochs', 'rounds', 'prune', 'criterion', 'sigma'] as const;
/** Where the run is in its schedule: round 0 is the initial EM; round r >= 1 is prune -> grow -> EM. */
interface SchedulePosition {
  round: number;
  stage: 'prune' | 'grow' | 'epochs';
  epochsDone: number;
}

type UnitOutcome = 'done' | 'stopped';

/** The first `n` rows of a dataset (a view, no copy). */
function firstRows(d: Dataset, n: number): Dataset {
  const count = Math.min(n, d.count);
  return { ...d, count, pixels: d.pixels.subarray(0, count * d.numVars), labels: d.labels?.subarray(0, count) };
}

const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class PlaygroundSession {
  private readonly deps: SessionDeps;
  private readonly sleep: (ms: number) => Promise<void>;
  private model: Model | null = null;
  private schedule: SchedulePosition = { round: 0, stage: 'epochs', epochsDone: 0 };
  /** Whether the epoch in progress counts towards the schedule (it was begun as its next unit). */
  private epochOnSchedule = false;
  private speed: Speed = 'normal';
  private commands: Array<Extract<ToWorker, { type: 'init' | 'play' | 'step' }>> = [];
  private queries: Array<{ id: number; query: Query }> = [];
  private pumping = false;
  private pauseRequested = false;
  /** Settings a `configure` changed while the model was still being built: applied once it exists
   *  (they are newer than the init's), dropped by the next init. */
  private configureLater: Extract<ToWorker, { type: 'configure' }>['config'] = {};
  /** Bumped by init and import: work begun for an older model stops at its next boundary. */
  private generation = 0;
  /** Bumped by every change of parameters or structure (caches below compare it). */
  private paramsVersion = 0;
  private syncedVersion = -1;
  private snapshotVersion = 0;
  private flows: FlowRecord | null = null;
  /** The latest pixel information and the training set and tree it belongs to. */
  private pixelInfo: { train: Dataset; parent: Int32Array; bits: Float32Array } | null = null;
  /** The prune shown in the pending preview (region queries mark its edges). */
  private preview: { compiled: CompiledCircuit; marked: Uint8Array } | null = null;
  /** The read-only queries (score, inpaint, samples, region, bpd distribution) and their caches. */
  private readonly reads: ModelQueries;
  /** The visitor's test split, if any (test-split.ts): measured at every epoch's end. */
  private readonly testSplit: TestSplit;

  constructor(deps: SessionDeps) {
    this.deps = deps;
    this.sleep = deps.sleep ?? defaultSleep;
    this.reads = new ModelQueries({
      model: () => this.requireModel(),
      paramsVersion: () => this.paramsVersion,
      syncParams: () => this.syncParams(),
      flows: () => this.flows,
      preview: () => this.preview,
      progress: this.progress,
    });
    this.testSplit = new TestSplit({
      load: (file, onProgress) => deps.loadDataset({ kind: 'idx', images: file }, onProgress),
      post: (msg) => this.post(msg),
      loadProgress: () => this.throttledProgress('load'),
      hasModel: () => this.model !== null,
      loaded: () => void this.pump(),
    });
  }

  /** Takes one message from the page. Never throws: failures become `error` / `queryError` messages. */
  handle(msg: ToWorker): void {
    switch (msg.type) {
      case 'init':
        // A new run replaces whatever is queued or running (it stops at its next batch boundary).
        this.generation++;
        this.pauseRequested = true;
        this.commands = [msg];
        this.configureLater = {};
        break;
      case 'play':
        if (!this.commands.some((c) => c.type === 'play')) this.commands.push(msg);
        break;
      case 'step':
        this.commands.push(msg);
        break;
      case 'pause':
        this.commands = this.commands.filter((c) => c.type !== 'play');
        this.pauseRequested = true;
        return;
      case 'speed':
        this.speed = msg.speed;
        return;
      case 'configure':
        try {
          this.configure(msg.config);
        } catch (e) {
          this.post({ type: 'error', message: describeError(e, 'The settings could not be changed') });
        }
        return;
      case 'query':
        this.queries.push({ id: msg.id, query: msg.query });
        break;
      case 'testSplit':
        this.testSplit.set(msg.file);
        if (!msg.file && this.model) this.post({ type: 'ready', info: this.info() }); // its bytes are gone
        return;
      default:
        this.post({ type: 'error', message: `The training worker got a message it does not know (${String((msg as { type?: unknown }).type)}).` });
        return;
    }
    void this.pump();
  }

  private post(msg: FromWorker): void {
    this.deps.post(msg);
  }

  private configure(patch: Extract<ToWorker, { type: 'configure' }>['config']): void {
    checkRunConfig(patch);
    const m = this.model;
    if (!m) {
      // Still building (or nothing asked for yet): the init's own settings come first, then these.
      Object.assign(this.configureLater, patch);
      return;
    }
    // Only these may change mid-run (K, seed and the split need a new init).
    for (const key of CONFIGURABLE) if (patch[key] !== undefined) (m.config as unknown as Record<string, unknown>)[key] = patch[key];
    // The Trainer reads batch (at each epoch's start), step and pseudocount (at each batch), prune,
    // criterion and sigma (at each prune / grow) from its config object.
    const tc = m.trainConfig;
    Object.assign(tc, toTrainConfig(m.config));
  }

  /** Runs queued work one piece at a time; queries go first. */
  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      for (;;) {
        if (this.queries.length > 0 || this.testSplit.owed) {
          await this.serveQueries();
          continue;
        }
        const cmd = this.commands.shift();
        if (!cmd) break;
        const gen = this.generation;
        try {
          if (cmd.type === 'init') await this.init(cmd, gen);
          else if (cmd.type === 'play') await this.play(gen);
          else await this.step(cmd.unit, gen);
        } catch (e) {
          this.post({ type: 'error', message: describeError(e, 'Training failed') });
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  // ------------------------------------------------------------------ init

  private async init(msg: Extract<ToWorker, { type: 'init' }>, gen: number): Promise<void> {
    const old = this.model;
    this.model = null;
    this.resetRunState();
    old?.handle.engine.dispose();
    const config = { ...msg.config };
    checkRunConfig(config);
    this.post({ type: 'progress', task: 'load', done: 0, total: 0 });
    const dataset = await this.deps.loadDataset(msg.dataset, this.throttledProgress('load'));
    if (gen !== this.generation) return;
    if (dataset.count < 2)
      throw new UserError(`The dataset ${dataset.name} has ${dataset.count} image${dataset.count === 1 ? '' : 's'}; training needs at least 2.`);
    this.post({ type: 'progress', task: 'load', done: 1, total: 1 });
    const { train, valid } = splitFirstImages(dataset, config.images, config.validFrac, config.seed);
    const circuit = msg.model ? readModelFile(msg.model, dataset) : undefined;
    const handle = await this.deps.createEngine(msg.engine, (message) => {
      this.post({ type: 'notice', message: sentence(message) });
      // A GPU failure mid-run moves the work to the CPU: the page's backend figure must say so.
      if (this.model) this.post({ type: 'ready', info: this.info() });
    });
    if (gen !== this.generation) {
      handle.engine.dispose();
      return;
    }
    const task = circuit ? 'rebuild' : 'build';
    this.post({ type: 'progress', task, done: 0, total: 0 });
    await this.sleep(0); // let the page show "building" before the (synchronous) HCLT build
    const trainConfig = toTrainConfig(config);
    let trainer: Trainer;
    try {
      // The HCLT is built here (as Trainer.create would) so that its slow part reports progress:
      // about 100 s for Fashion-MNIST's 54,000 training images on 2 busy cores.
      const start = circuit ?? buildHclt(train, { K: trainConfig.K, seed: trainConfig.seed, onProgress: this.throttledProgress('build') });
      trainer = await Trainer.create(trainConfig, handle.engine, train, valid, start);
    } catch (e) {
      handle.engine.dispose();
      throw e;
    }
    if (gen !== this.generation) {
      handle.engine.dispose();
      return;
    }
    this.post({ type: 'progress', task, done: 1, total: 1 });
    // The split holds the pixels now; the file's dataset keeps only its name and shape (holding both
    // would double the worker's memory: 47 MB more for Fashion-MNIST's training file).
    const source = { ...dataset, pixels: new Uint8Array(0), labels: undefined };
    this.model = { config, trainConfig, dataset: source, train, valid, flowSample: firstRows(train, SNAPSHOT_FLOW_IMAGES), handle, trainer };
    const later = this.configureLater;
    this.configureLater = {};
    this.configure(later);
    this.testSplit.fits(source); // a test split read before the training data: same image size?
    this.post({ type: 'ready', info: this.info() });
    await this.postSnapshot();
  }

  /** Forgets everything tied to the previous model (schedule, flows, caches). */
  private resetRunState(): void {
    this.schedule = { round: 0, stage: 'epochs', epochsDone: 0 };
    this.epochOnSchedule = false;
    this.flows = null;
    this.preview = null;
    this.reads.clear();
    this.paramsVersion++;
  }

  private info(): ModelInfo {
    const m = this.model!;
    const t = m.trainer;
    const gpu = t.engine.kind === 'gpu';
    return {
      backend: t.engine.adapter,
      engine: t.engine.kind,
      gpuBytes: gpu ? (m.handle.gpuBytes?.() ?? 0) : 0,
      dataBytes: m.train.pixels.byteLength + (m.valid?.pixels.byteLength ?? 0) + this.testSplit.bytes,
      edges: t.edges,
      params: t.params,
      K: latentStates(t.circuit),
      trainCount: m.train.count,
      validCount: m.valid?.count ?? 0,
      datasetName: m.dataset.name,
    };
  }

  private requireModel(): Model {
    if (!this.model) throw new UserError('There is no model yet: start a run first.');
    return this.model;
  }

  // ------------------------------------------------------------------ schedule

  /** The schedule's next unit of work, or null when it is done. */
  nextUnit(): 'epoch' | 'prune' | 'grow' | null {
    const m = this.model;
    if (!m) return null;
    const s = this.schedule;
    if (s.stage === 'prune') return 'prune';
    if (s.stage === 'grow') return 'grow';
    const need = s.round === 0 ? m.config.epochs : m.config.roundEpochs;
    if (s.epochsDone < need) return 'epoch';
    return s.round < m.config.rounds ? 'prune' : null;
  }

  /** Schedule position, for tests and status lines. */
  get position(): Readonly<SchedulePosition> {
    return { ...this.schedule };
  }

  private stale(gen: number): boolean {
    return gen !== this.generation;
  }

  private async play(gen: number): Promise<void> {
    this.requireModel();
    this.pauseRequested = false;
    for (;;) {
      if (this.pauseRequested || this.stale(gen)) break;
      const unit = this.nextUnit();
      if (!unit) break;
      if ((await this.runUnit(unit, gen, false)) === 'stopped') break;
      await this.between(gen, 0);
    }
    if (!this.stale(gen) && this.model?.trainer.epochProgress) await this.postSnapshot(); // paused mid-epoch
    this.post({ type: 'idle', finished: this.nextUnit() === null });
  }

  private async step(unit: StepUnit, gen: number): Promise<void> {
    this.requireModel();
    this.pauseRequested = false;
    if (unit === 'batch') await this.batchStep(gen);
    else await this.runUnit(unit, gen, true);
    this.post({ type: 'idle', finished: this.nextUnit() === null });
  }

  private runUnit(unit: 'epoch' | 'prune' | 'grow', gen: number, stepping: boolean): Promise<UnitOutcome> {
    if (unit === 'epoch') return this.runEpoch(gen, stepping);
    if (unit === 'prune') return this.runPrune(gen, stepping);
    return this.runGrow(gen, stepping);
  }

  /** Between two pieces of work: the speed's wait (in short slices), answering queries meanwhile. */
  private async between(gen: number, ms: number): Promise<void> {
    let left = ms;
    do {
      const d = Math.min(50, left);
      await this.sleep(d);
      if (this.stale(gen)) return;
      await this.serveQueries();
      left -= d;
    } while (left > 0 && !this.stale(gen));
  }

  private progress = (task: Parameters<TrainerProgress>[0], done: number, total: number): void => {
    this.post({ type: 'progress', task, done, total });
  };

  /** Progress of a long task (a file being read, in bytes; the HCLT's pair statistics), posted at most once per percent. */
  private throttledProgress(task: 'load' | 'build'): (done: number, total: number) => void {
    let posted = -1;
    return (done, total) => {
      if (done === posted || (done < total && posted >= 0 && done - posted < total / 100)) return;
      posted = done;
      this.post({ type: 'progress', task, done, total });
    };
  }

  /** Starts an epoch if none is in progress, recording whether the schedule counts it. */
  private beginEpoch(t: Trainer): void {
    if (t.epochProgress) return;
    this.epochOnSchedule = this.nextUnit() === 'epoch';
    t.beginEpoch();
  }

  /** One mini-batch of the epoch in progress, with its progress (and batch message when watched). */
  private async trainOneBatch(t: Trainer, watched: boolean): Promise<void> {
    const r = await t.trainBatch();
    this.paramsVersion++;
    this.post({ type: 'progress', task: 'epoch', done: r.done, total: r.total });
    if (watched) {
      this.post({ type: 'batch', epoch: t.epochInRound + 1, done: r.done, total: r.total, trainBpd: bitsPerDim(r.llSum / r.done, t.train.numVars) });
    }
  }

  /** The rest of the epoch in progress, or a whole new one; 'stopped' when paused or replaced. */
  private async runEpoch(gen: number, stepping: boolean): Promise<UnitOutcome> {
    const t = this.model!.trainer;
    if (!t.epochProgress && this.speed === 'fast' && !stepping && t.fused) {
      // Fused path (an engine that trains a whole resident epoch per call): the same batches, order
      // and EM steps as the loop below, with no read-backs in between; a pause waits for its end.
      this.epochOnSchedule = this.nextUnit() === 'epoch';
      const ev = await t.epoch((done, total) => this.post({ type: 'progress', task: 'epoch', done, total }), this.progress);
      this.paramsVersion++;
      return this.epochEnded(ev);
    }
    this.beginEpoch(t);
    const watched = stepping || this.speed === 'slow';
    while (!t.epochComplete) {
      await this.trainOneBatch(t, watched);
      if (t.epochComplete) break;
      await this.between(gen, this.speed === 'slow' ? SLOW_BATCH_MS : 0);
      if (this.stale(gen) || this.pauseRequested) return 'stopped';
    }
    const ev = await t.endEpoch(this.progress);
    return this.epochEnded(ev);
  }

  private async epochEnded(ev: EpochEvent): Promise<UnitOutcome> {
    if (this.epochOnSchedule) this.schedule.epochsDone++;
    this.epochOnSchedule = false;
    this.post({ type: 'event', event: await this.withTestBpd(ev) });
    await this.postSnapshot();
    return 'done';
  }

  /** The epoch's event with the test split's bpd (measured now, after the epoch's EM updates), if there is one. */
  private async withTestBpd(ev: EpochEvent): Promise<PlaygroundEpochEvent> {
    const m = this.model!;
    const split = this.testSplit;
    if (!split.dataset || !split.fits(m.dataset)) return ev;
    try {
      const r = await split.measure(m.trainer.engine);
      return r ? { ...ev, test_bpd: r.bpd } : ev;
    } catch (e) {
      split.reject(describeError(e, 'Measuring the test bpd failed'));
      return ev;
    }
  }

  /** Step 'batch': one mini-batch (starting an epoch if needed; ending it after its last batch). */
  private async batchStep(gen: number): Promise<void> {
    const t = this.model!.trainer;
    this.beginEpoch(t);
    await this.trainOneBatch(t, true);
    if (t.epochComplete) await this.epochEnded(await t.endEpoch(this.progress));
    else if (!this.stale(gen)) await this.postSnapshot();
  }

  /** Structure changes need the epoch in progress finished first (its batches belong to one circuit). */
  private async finishEpochFirst(gen: number, stepping: boolean): Promise<boolean> {
    if (!this.model!.trainer.epochProgress) return true;
    return (await this.runEpoch(gen, stepping)) === 'done';
  }

  private async runPrune(gen: number, stepping: boolean): Promise<UnitOutcome> {
    if (!(await this.finishEpochFirst(gen, stepping))) return 'stopped';
    const m = this.model!;
    const t = m.trainer;
    const onSchedule = this.nextUnit() === 'prune';
    if (onSchedule && this.schedule.stage === 'epochs') {
      // Entering round r, as Trainer.run does before its prune: later epoch events carry round r.
      this.schedule = { round: this.schedule.round + 1, stage: 'prune', epochsDone: 0 };
      t.round = this.schedule.round;
      t.epochInRound = 0;
    }
    const plan = await t.scorePrune(m.config.prune, m.config.criterion, this.progress);
    this.flows = { compiled: plan.compiled, edgeFlows: plan.edgeFlows, images: m.train.count, paramsVersion: this.paramsVersion };
    this.preview = { compiled: plan.compiled, marked: plan.marked };
    const holdMs = PREVIEW_HOLD_MS[this.speed];
    this.post({ type: 'prunePreview', preview: this.prunePreview(plan, holdMs) });
    await this.between(gen, holdMs);
    this.preview = null;
    if (this.stale(gen)) return 'stopped';
    const ev = await t.applyPrune(plan, undefined, this.progress);
    this.paramsVersion++;
    if (onSchedule) this.schedule.stage = 'grow';
    this.post({ type: 'event', event: ev });
    await this.postSnapshot();
    return 'done';
  }

  private async runGrow(gen: number, stepping: boolean): Promise<UnitOutcome> {
    if (!(await this.finishEpochFirst(gen, stepping))) return 'stopped';
    const m = this.model!;
    const onSchedule = this.nextUnit() === 'grow';
    this.post({ type: 'progress', task: 'rebuild', done: 0, total: 0 });
    const ev = await m.trainer.grow(m.config.sigma);
    this.paramsVersion++;
    this.post({ type: 'progress', task: 'rebuild', done: 1, total: 1 });
    if (onSchedule) this.schedule = { ...this.schedule, stage: 'epochs', epochsDone: 0 };
    this.post({ type: 'event', event: ev });
    await this.postSnapshot();
    return 'done';
  }

  /** The preview message: score histogram (log10), the cut, removals per region. */
  private prunePreview(plan: PrunePlan, holdMs: number): PrunePreview {
    const cc = plan.compiled;
    const n = this.model!.train.count;
    // Flow scores are shown per training image (mean flow, in [0, 1]); the others as they are.
    const scale = plan.criterion === 'flow' && n > 0 ? 1 / n : 1;
    const logs = new Float64Array(cc.numEdges);
    // Zero scores (edges no image uses) have no logarithm: they sit at a floor below every other.
    // The histogram covers every edge; the threshold is the highest removed score, so a few edges
    // below it survive (each sum node keeps its best edge, and single-edge rows are never candidates).
    const FLOOR = -12;
    let threshold = FLOOR;
    for (let e = 0; e < cc.numEdges; e++) {
      const s = plan.scores[e] * scale;
      logs[e] = s > 0 ? Math.max(FLOOR, Math.log10(s)) : FLOOR;
      if (plan.marked[e] && logs[e] > threshold) threshold = logs[e];
    }
    const removedPerRegion = new Int32Array(cc.numVars);
    for (const cr of cc.regions) {
      let k = 0;
      for (let e = cr.edgeStart; e < cr.edgeStart + cr.nnz; e++) k += plan.marked[e];
      removedPerRegion[cr.variable] = k;
    }
    const hist = histogramOf(logs, HISTOGRAM_BINS);
    const removedCounts = new Int32Array(hist.counts.length);
    for (let e = 0; e < cc.numEdges; e++) if (plan.marked[e]) removedCounts[binOf(hist, logs[e])]++;
    return { fraction: plan.fraction, criterion: plan.criterion, histogram: hist, removedCounts, threshold, removedPerRegion, removed: plan.removed, holdMs };
  }

  // ------------------------------------------------------------------ snapshots

  /** Dataset edge flows of the current circuit and parameters (recomputed on the flow sample if stale). */
  private async currentFlows(): Promise<FlowRecord> {
    const m = this.model!;
    const t = m.trainer;
    const f = this.flows;
    if (f && f.compiled === t.compiled && f.paramsVersion === this.paramsVersion) return f;
    const { edgeFlows } = await t.datasetFlows(m.flowSample, this.progress);
    this.flows = { compiled: t.compiled, edgeFlows, images: m.flowSample.count, paramsVersion: this.paramsVersion };
    return this.flows;
  }

  /** The pixel information of the current tree (protocol.ts, CircuitSnapshot), computed once per tree. */
  private pixelInformation(parent: Int32Array): Float32Array {
    const m = this.model!;
    const cached = this.pixelInfo;
    if (cached && cached.train === m.train && cached.parent.every((p, v) => p === parent[v])) return cached.bits;
    const bits = Float32Array.from(treeEdgeInformation(m.train, parent), (nats) => nats / Math.LN2);
    this.pixelInfo = { train: m.train, parent, bits };
    return bits;
  }

  private async postSnapshot(): Promise<void> {
    const m = this.model!;
    const t = m.trainer;
    const f = await this.currentFlows();
    const c = t.circuit;
    const cc = t.compiled;
    const parent = Int32Array.from(c.regions, (r) => r.parent);
    const snapshot: CircuitSnapshot = {
      version: ++this.snapshotVersion,
      side: m.dataset.cols,
      numVars: c.numVars,
      K: latentStates(c),
      parent,
      regionSize: Int32Array.from(c.regions, (r) => r.size),
      regionEdges: Int32Array.from(c.regions, (r) => r.block.colIdx.length),
      edgeInformation: edgeInformation(c, cc, f.edgeFlows),
      pixelInformation: this.pixelInformation(parent),
      layers: cc.layers.length,
      nodes: countNodes(c),
      edges: cc.numEdges,
      params: countParams(c),
    };
    this.post({ type: 'snapshot', snapshot });
  }

  // ------------------------------------------------------------------ queries

  private async serveQueries(): Promise<void> {
    while (this.queries.length > 0) {
      const { id, query } = this.queries.shift()!;
      let after: (() => Promise<void>) | null = null;
      try {
        const out = await this.answer(query);
        this.post({ type: 'queryResult', id, result: out.result });
        after = out.after ?? null;
      } catch (e) {
        this.post({ type: 'queryError', id, message: describeError(e, `The ${query?.kind ?? 'unknown'} query failed`) });
      }
      if (after) {
        try {
          await after();
        } catch (e) {
          this.post({ type: 'error', message: describeError(e, 'Loading the imported model failed') });
        }
      }
    }
    await this.settleTestSplit();
  }

  /** A test split just read for an existing model: measured now (between mini-batches, like a query). */
  private async settleTestSplit(): Promise<void> {
    const split = this.testSplit;
    const data = split.dataset;
    if (!split.owed || !data) return;
    const m = this.model;
    if (!m) {
      split.owed = false;
      split.report(data, null);
      return;
    }
    if (!split.fits(m.dataset)) return;
    try {
      const r = await split.measure(m.trainer.engine);
      if (r) split.report(r.data, r.bpd);
    } catch (e) {
      split.reject(describeError(e, 'Measuring the test bpd failed'));
    }
    if (this.model === m) this.post({ type: 'ready', info: this.info() }); // the data's bytes changed
  }

  /** Makes the compiled circuit's parameter arrays current (a read-back on the GPU) once per change. */
  private async syncParams(): Promise<void> {
    if (this.syncedVersion === this.paramsVersion) return;
    await this.model!.trainer.engine.syncParams();
    this.syncedVersion = this.paramsVersion;
  }

  /** Export and import change or copy the model, so the session answers them; the rest are reads. */
  private async answer(query: Query): Promise<{ result: QueryResult; after?: () => Promise<void> }> {
    if (!query || typeof query !== 'object') throw new UserError('The query is empty.');
    this.requireModel();
    if (query.kind === 'export') return { result: await this.exportModel(query.format) };
    if (query.kind === 'import') return this.importModel(query.file);
    return { result: await this.reads.answer(query) };
  }

  private async exportModel(format: unknown): Promise<QueryResult> {
    const m = this.model!;
    if (format !== 'spc' && format !== 'jpc') throw new UserError(`The export format must be spc or jpc, got ${String(format)}.`);
    const t = m.trainer;
    const c = await t.snapshot();
    const K = latentStates(c);
    const base = `hclt-k${K}-seed${m.config.seed}`;
    if (format === 'jpc') {
      return { kind: 'export', fileName: `${base}.jpc`, mime: 'text/plain', bytes: new TextEncoder().encode(exportJpc(c)) };
    }
    const meta = {
      source: 'Sparse PC Playground',
      config: { ...m.config },
      dataset: m.dataset.name,
      K,
      round: this.schedule.round,
      edges: t.edges,
      params: t.params,
    };
    return { kind: 'export', fileName: `${base}.spc`, mime: 'application/octet-stream', bytes: encodeSpc(c, meta) };
  }

  /** Reads a model file; replaces the model (fresh schedule) after the answer `ok` goes out. */
  private async importModel(file: DroppedFile): Promise<{ result: QueryResult; after: () => Promise<void> }> {
    const m = this.model!;
    const circuit = readModelFile(file, m.dataset);
    const old = m.trainer;
    // The old parameters must be current in its compiled arrays, to reload them if the new model fails.
    await this.syncParams();
    this.post({ type: 'progress', task: 'rebuild', done: 0, total: 0 });
    let trainer: Trainer;
    try {
      trainer = await Trainer.create(m.trainConfig, old.engine, m.train, m.valid, circuit);
    } catch (e) {
      await old.engine.load(old.compiled);
      throw e;
    }
    // Work begun for the old model (a play, a pending prune) stops at its next boundary.
    this.generation++;
    this.model = { ...m, trainer };
    this.resetRunState();
    this.post({ type: 'progress', task: 'rebuild', done: 1, total: 1 });
    return {
      result: { kind: 'ok' },
      after: async () => {
        this.post({ type: 'ready', info: this.info() });
        await this.postSnapshot();
      },
    };
  }
}

/** A model file (.spc or .jpc) from the page, checked against the dataset it will run on. */
function readModelFile(file: DroppedFile, dataset: Dataset): Circuit {
  if (!file || typeof file.name !== 'string' || !(file.bytes instanceof ArrayBuffer))
    throw new UserError('The model file could not be read (no name or no bytes).');
  const bytes = new Uint8Array(file.bytes);
  const head = new TextDecoder().decode(bytes.subarray(0, 64));
  const isJpc = file.name.toLowerCase().endsWith('.jpc') || /^\s*(c|jpc)\b/.test(head);
  const circuit = isJpc ? importJpc(new TextDecoder().decode(bytes), file.name) : decodeSpc(bytes, file.name).circuit;
  const D = dataset.numVars;
  const V = dataset.numValues;
  if (circuit.numVars !== D || circuit.numValues !== V) {
    throw new UserError(
      `${file.name} is a model of ${circuit.numVars} pixels with ${circuit.numValues} values each, but the dataset (${dataset.name}) has ${D} pixels with ${V} values, so it cannot be used here.`,
    );
  }
  return circuit;
}
