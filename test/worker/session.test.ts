// The playground's training session (src/worker/session.ts) driven in Node with the real CPU engine and a
// small real dataset: the schedule gives the CLI Trainer's numbers whatever the speed and pauses,
// steps do one unit each, queries answer with the float64 reference's numbers, files round-trip, and
// nothing non-finite reaches the page.
import { describe, expect, it } from 'vitest';
import { compileCircuit } from '../../src/circuit/compile.ts';
import { treeEdgeInformation } from '../../src/circuit/hclt.ts';
import { importJpc } from '../../src/circuit/formats/jpc.ts';
import { decodeSpc, encodeSpc } from '../../src/circuit/formats/spc.ts';
import { buildTreeCircuit, randomTree } from '../../src/circuit/tree.ts';
import type { Dataset } from '../../src/data/dataset.ts';
import { splitTrainValid } from '../../src/data/split.ts';
import { CpuEngine } from '../../src/engines/cpu/engine.ts';
import { CpuQueries } from '../../src/engines/cpu/queries.ts';
import { createBrowserEngine, NO_ADAPTER_NOTICE, NO_WEBGPU_NOTICE } from '../../src/engines/create-browser.ts';
import type { Engine } from '../../src/engines/engine.ts';
import { FallbackEngine } from '../../src/engines/gpu/fallback.ts';
import { createNodeGpuEngine } from '../../src/engines/gpu/node-gpu.ts';
import type {
  CircuitSnapshot,
  FromWorker,
  Histogram,
  PrunePreview,
  Query,
  QueryResult,
  RegionDetail,
  RunConfig,
  ScoreResult,
  ImagesResult,
  ExportResult,
} from '../../src/worker/protocol.ts';
import { PlaygroundSession, SLOW_BATCH_MS, PREVIEW_HOLD_MS } from '../../src/worker/session.ts';
import { SURPRISE_FLOOR } from '../../src/worker/queries.ts';
import { DEFAULT_TRAIN_CONFIG, Trainer, type TrainEvent } from '../../src/training/trainer.ts';
import { Rng } from '../../src/util/rng.ts';
import { embeddedSubset, randomDataset } from '../helpers/data.ts';

const CONFIG: RunConfig = {
  K: 3,
  seed: 1,
  batch: 128,
  step: 0.1,
  pseudocount: 0.1,
  epochs: 2,
  roundEpochs: 1,
  rounds: 1,
  prune: 0.5,
  criterion: 'flow',
  sigma: 0.5,
  validFrac: 0.1,
  images: 0,
};
const IMAGES = 600;

/** A session over `data`, by default with the CPU engine (float32, one thread: the worker's CPU engine). */
function harness(
  data: Dataset,
  makeEngine: () => Promise<{ engine: Engine; gpuBytes?: () => number }> = async () => ({ engine: new CpuEngine({ threads: 1, precision: 'float32' }) }),
) {
  const messages: FromWorker[] = [];
  const sleeps: number[] = [];
  const hooks: Array<(m: FromWorker) => void> = [];
  const session = new PlaygroundSession({
    post: (m) => {
      messages.push(m);
      for (const h of hooks.slice()) h(m);
    },
    createEngine: makeEngine,
    loadDataset: async () => data,
    // Records the waits but does not make the test wait them out (results must not depend on time).
    sleep: (ms) => {
      sleeps.push(ms);
      return new Promise((resolve) => setImmediate(resolve));
    },
  });
  /** Resolves with the first message from now on that matches. */
  const next = <T extends FromWorker>(pred: (m: FromWorker) => m is T): Promise<T> =>
    new Promise((resolve) => {
      const h = (m: FromWorker): void => {
        if (pred(m)) {
          hooks.splice(hooks.indexOf(h), 1);
          resolve(m);
        }
      };
      hooks.push(h);
    });
  const idle = () => next((m): m is Extract<FromWorker, { type: 'idle' }> => m.type === 'idle');
  let queryId = 0;
  /** Sends a query and resolves with its result or error message. */
  const ask = async (query: Query): Promise<{ result?: QueryResult; error?: string }> => {
    const id = ++queryId;
    const p = next(
      (m): m is Extract<FromWorker, { type: 'queryResult' | 'queryError' }> => (m.type === 'queryResult' || m.type === 'queryError') && m.id === id,
    );
    session.handle({ type: 'query', id, query });
    const m = await p;
    return m.type === 'queryResult' ? { result: m.result } : { error: m.message };
  };
  const events = () => messages.flatMap((m) => (m.type === 'event' ? [m.event] : []));
  /** The snapshot posted right after the k-th event. */
  const snapshotAfter = (k: number): CircuitSnapshot => {
    const at = messages.indexOf(messages.filter((m) => m.type === 'event')[k]);
    const m = messages.slice(at).find((x) => x.type === 'snapshot') as Extract<FromWorker, { type: 'snapshot' }>;
    return m.snapshot;
  };
  const snapshots = () => messages.flatMap((m) => (m.type === 'snapshot' ? [m.snapshot] : []));
  const init = async (config = CONFIG) => {
    const ready = next((m): m is FromWorker => m.type === 'snapshot' || m.type === 'error');
    session.handle({ type: 'init', dataset: { kind: 'embedded', url: 'http://127.0.0.1/unused' }, config: { ...config }, engine: 'cpu' });
    const m = await ready;
    if (m.type === 'error') throw new Error(m.message);
  };
  return { session, messages, sleeps, hooks, next, idle, ask, events, snapshots, snapshotAfter, init };
}

/** Events without their timing fields (the only ones that may differ between runs). */
function untimed(e: TrainEvent): Record<string, unknown> {
  const { seconds: _s, samples_per_s: _r, ...rest } = e as TrainEvent & { seconds?: number; samples_per_s?: number };
  return rest;
}

/** Every number in a message (typed arrays included) is finite; null is fine (valid_bpd, bound). */
function nonFinitePaths(x: unknown, path = '', out: string[] = []): string[] {
  if (typeof x === 'number') {
    if (!Number.isFinite(x)) out.push(`${path}=${x}`);
  } else if (ArrayBuffer.isView(x) && !(x instanceof DataView)) {
    const a = x as unknown as ArrayLike<number>;
    for (let k = 0; k < a.length; k++) if (!Number.isFinite(a[k])) out.push(`${path}[${k}]=${a[k]}`);
  } else if (x && typeof x === 'object') {
    for (const [k, v] of Object.entries(x)) nonFinitePaths(v, `${path}.${k}`, out);
  }
  return out;
}

function sum(a: ArrayLike<number>): number {
  let s = 0;
  for (let k = 0; k < a.length; k++) s += a[k];
  return s;
}

/** One sentence: ends with a full stop and has no sentence break inside. */
function expectOneSentence(message: string | undefined): void {
  expect(message).toBeDefined();
  expect(message!).toMatch(/[.!?]$/);
  expect(message!.slice(0, -1)).not.toMatch(/[.!?]\s+[A-Z]/);
}

/** Edges after a grow (grow.ts): a sum node with d > 1 children and its copy get 2d edges each, one
 *  with a single child one each; the root's single row is not copied (2d). */
function expectGrownEdges(grow: { edges: number; edges_before: number }, s: CircuitSnapshot): void {
  const root = s.parent.indexOf(-1);
  const before = sum(s.regionEdges);
  expect(grow.edges_before).toBe(before);
  expect(grow.edges).toBeGreaterThanOrEqual(2 * before);
  expect(grow.edges).toBeLessThanOrEqual(4 * (before - s.regionEdges[root]) + 2 * s.regionEdges[root]);
}

let dataPromise: Promise<Dataset> | null = null;
const data = () => (dataPromise ??= embeddedSubset(IMAGES));

/** The CLI's order of operations (Trainer.run) on the same split, engine and seed; patience off. */
let referencePromise: Promise<TrainEvent[]> | null = null;
function reference(): Promise<TrainEvent[]> {
  referencePromise ??= (async () => {
    const { train, valid } = splitTrainValid(await data(), CONFIG.validFrac, CONFIG.seed);
    const cfg = { ...DEFAULT_TRAIN_CONFIG, ...CONFIG, fullBatch: false, patience: Infinity };
    const t = await Trainer.create(cfg, new CpuEngine({ threads: 1, precision: 'float32' }), train, valid);
    const events: TrainEvent[] = [];
    await t.run((e) => events.push(e));
    return events;
  })();
  return referencePromise;
}

/** A prune of `fraction` marks floor(fraction x the edges of sum nodes with several children), less
 *  one edge of each node that would lose them all (prune.ts): at most floor(fraction x edges). */
function expectPruneCount(removed: number, fraction: number, edges: number): void {
  expect(removed).toBeLessThanOrEqual(Math.floor(fraction * edges));
  expect(removed).toBeGreaterThan(0.5 * fraction * edges);
}

describe('PlaygroundSession: the schedule', () => {
  it('play at slow speed, paused mid-epoch and resumed, gives the Trainer.run events exactly', async () => {
    const ref = await reference();
    expect(ref.map((e) => e.event)).toEqual(['epoch', 'epoch', 'prune', 'grow', 'epoch']);
    const h = harness(await data());
    await h.init();
    const ready = h.messages.find((m) => m.type === 'ready') as Extract<FromWorker, { type: 'ready' }>;
    expect(ready.info).toMatchObject({ engine: 'cpu', gpuBytes: 0, K: 3, trainCount: 540, validCount: 60 });
    h.session.handle({ type: 'speed', speed: 'slow' });

    // Pause after the second mini-batch of the first epoch (a page's pause arrives between batches).
    const paused = h.next((m): m is FromWorker => m.type === 'batch' && m.done === 256);
    paused.then(() => h.session.handle({ type: 'pause' }));
    // A query sent during training is answered between mini-batches, before the epoch ends.
    const firstBatch = h.next((m): m is FromWorker => m.type === 'batch' && m.done === 128);
    let scoreDuringTraining: Promise<{ result?: QueryResult; error?: string }> | null = null;
    firstBatch.then(async () => {
      scoreDuringTraining = h.ask({ kind: 'samples', count: 1, seed: 3 });
    });
    let idle = h.idle();
    h.session.handle({ type: 'play' });
    expect((await idle).finished).toBe(false);
    expect(h.events()).toHaveLength(0);
    expect(h.session.position).toEqual({ round: 0, stage: 'epochs', epochsDone: 0 });
    const batches = h.messages.filter((m) => m.type === 'batch') as Array<Extract<FromWorker, { type: 'batch' }>>;
    expect(batches.map((b) => b.done)).toEqual([128, 256]);
    expect(batches.every((b) => b.epoch === 1 && b.total === 540 && b.trainBpd > 0)).toBe(true);
    const answer = await scoreDuringTraining!;
    expect(answer.result?.kind).toBe('images');
    const answeredAt = h.messages.findIndex((m) => m.type === 'queryResult');
    expect(answeredAt).toBeLessThan(h.messages.indexOf(batches[1]));

    // Resume: the epoch continues at batch 3 and the whole schedule runs to its end.
    const prunePreview = h.next((m): m is Extract<FromWorker, { type: 'prunePreview' }> => m.type === 'prunePreview');
    let regionDuringPreview: Promise<{ result?: QueryResult }> | null = null;
    let previewVariable = -1;
    prunePreview.then((m) => {
      // The region with the most edges going: its detail marks exactly those.
      previewVariable = m.preview.removedPerRegion.indexOf(Math.max(...m.preview.removedPerRegion));
      regionDuringPreview = h.ask({ kind: 'region', variable: previewVariable });
    });
    idle = h.idle();
    h.session.handle({ type: 'play' });
    expect((await idle).finished).toBe(true);
    const batchesAfter = (h.messages.filter((m) => m.type === 'batch') as Array<Extract<FromWorker, { type: 'batch' }>>).slice(2);
    expect(batchesAfter[0].done).toBe(384);

    const events = h.events();
    expect(events.map(untimed)).toEqual(ref.map(untimed));
    expect(events[0].event === 'epoch' && events[0].train_bpd).toBeGreaterThan(0);

    // Slow speed waited between batches and held the preview for its time (in slices).
    expect(h.sleeps).toContain(50);
    expect(sum(h.sleeps)).toBeGreaterThanOrEqual(PREVIEW_HOLD_MS.slow + 5 * SLOW_BATCH_MS);

    // The preview announced exactly what the prune removed, and the region view marked it.
    const preview: PrunePreview = (await prunePreview).preview;
    const pruneEvent = events[2];
    if (pruneEvent.event !== 'prune') throw new Error('expected a prune');
    expect(preview.removed).toBe(pruneEvent.removed_edges);
    expect(sum(preview.removedPerRegion)).toBe(preview.removed);
    expect(preview.holdMs).toBe(PREVIEW_HOLD_MS.slow);
    expect(preview.histogram.total).toBe(events[1].edges);
    // Removed edges per histogram bin: all of them counted, never more than the bin holds.
    expect(sum(preview.removedCounts)).toBe(preview.removed);
    preview.removedCounts.forEach((c, i) => expect(c).toBeLessThanOrEqual(preview.histogram.counts[i]));
    expect(sum(preview.histogram.counts)).toBe(preview.histogram.total);
    const region = (await regionDuringPreview!).result as RegionDetail & { kind: 'region' };
    expect(sum(region.marked)).toBe(preview.removedPerRegion[previewVariable]);
    expect(sum(region.flows)).toBeCloseTo(1, 4); // the prune's full training-set flows

    // Edges drop by the fraction; the bound (when not vacuous) covers the measured drop; grow doubles K.
    const before = events[1].edges;
    expectPruneCount(pruneEvent.removed_edges, CONFIG.prune, before);
    expect(pruneEvent.edges).toBeLessThanOrEqual(before - pruneEvent.removed_edges);
    if (pruneEvent.bound_ll_drop !== null) expect(pruneEvent.bound_ll_drop).toBeGreaterThanOrEqual(pruneEvent.measured_ll_drop);
    const grow = events[3];
    if (grow.event !== 'grow') throw new Error('expected a grow');
    expect(grow.k).toBe(2 * CONFIG.K);
    expectGrownEdges(grow, h.snapshotAfter(2));

    // A snapshot follows every event, versions increase, and the last one shows the grown circuit.
    const snaps = h.snapshots();
    expect(snaps.length).toBeGreaterThanOrEqual(1 + events.length);
    for (let k = 1; k < snaps.length; k++) expect(snaps[k].version).toBeGreaterThan(snaps[k - 1].version);
    const last: CircuitSnapshot = snaps[snaps.length - 1];
    expect(last).toMatchObject({ K: 6, numVars: 784, side: 28, edges: grow.edges, params: grow.params });
    expect(sum(last.regionEdges)).toBe(grow.edges);
    expect(last.edgeInformation.length).toBe(784);
    expect(last.edgeInformation[last.parent.indexOf(-1)]).toBe(0);
    expect(Math.max(...last.edgeInformation)).toBeGreaterThan(0);
    expect(Math.max(...last.edgeInformation)).toBeLessThanOrEqual(Math.log2(6) + 1e-6);
    // The pixels' shared information: the Chow-Liu weights of the tree on the training split, in bits.
    const { train } = splitTrainValid(await data(), CONFIG.validFrac, CONFIG.seed);
    const nats = treeEdgeInformation(train, last.parent);
    last.pixelInformation.forEach((bits, v) => expect(bits).toBeCloseTo(nats[v] / Math.LN2, 6));
    expect(last.pixelInformation[last.parent.indexOf(-1)]).toBe(0);
    // The corner pixel is background: its edge shares a few hundredths of what the digit's edges do.
    expect(last.pixelInformation[0]).toBeLessThan(0.05 * Math.max(...last.pixelInformation));

    expect(h.messages.filter((m) => m.type === 'error')).toEqual([]);
    expect(h.messages.flatMap((m) => nonFinitePaths(m))).toEqual([]);
  }, 120_000);
});

describe('PlaygroundSession: steps and queries', () => {
  it('steps one unit at a time, answers every query with the reference numbers, and round-trips files', async () => {
    const ref = await reference();
    const h = harness(await data());
    await h.init();

    // step batch: one mini-batch, then idle; step epoch finishes that epoch with the schedule's numbers.
    let idle = h.idle();
    h.session.handle({ type: 'step', unit: 'batch' });
    expect((await idle).finished).toBe(false);
    const batch = h.messages.find((m) => m.type === 'batch') as Extract<FromWorker, { type: 'batch' }>;
    expect(batch).toMatchObject({ epoch: 1, done: 128, total: 540 });
    expect(h.events()).toHaveLength(0);
    idle = h.idle();
    h.session.handle({ type: 'step', unit: 'epoch' });
    await idle;
    expect(h.events().map(untimed)).toEqual([untimed(ref[0])]);
    expect(h.session.position).toEqual({ round: 0, stage: 'epochs', epochsDone: 1 });

    // step prune (off the schedule, which still wants an epoch): the fraction goes, the preview matches.
    const edgesBefore = h.events()[0].edges;
    idle = h.idle();
    h.session.handle({ type: 'speed', speed: 'fast' });
    h.session.handle({ type: 'step', unit: 'prune' });
    await idle;
    const prune = h.events()[1];
    if (prune.event !== 'prune') throw new Error('expected a prune');
    expectPruneCount(prune.removed_edges, CONFIG.prune, edgesBefore);
    if (prune.bound_ll_drop !== null) expect(prune.bound_ll_drop).toBeGreaterThanOrEqual(prune.measured_ll_drop);
    const preview = (h.messages.find((m) => m.type === 'prunePreview') as Extract<FromWorker, { type: 'prunePreview' }>).preview;
    expect(preview).toMatchObject({ removed: prune.removed_edges, holdMs: PREVIEW_HOLD_MS.fast, criterion: 'flow', fraction: 0.5 });
    expect(h.session.position).toEqual({ round: 0, stage: 'epochs', epochsDone: 1 });

    // step grow: K doubles, every kept block entry becomes four.
    idle = h.idle();
    h.session.handle({ type: 'step', unit: 'grow' });
    await idle;
    const grow = h.events()[2];
    if (grow.event !== 'grow') throw new Error('expected a grow');
    expect(grow.k).toBe(6);
    expectGrownEdges(grow, h.snapshotAfter(1));
    const snap = h.snapshots().at(-1)!;
    expect(snap.K).toBe(6);

    // configure: a bad value is one sentence; a good one applies to the next steps.
    h.session.handle({ type: 'configure', config: { step: 0 } });
    const err = h.messages.at(-1)!;
    expect(err.type).toBe('error');
    expectOneSentence((err as { message: string }).message);
    h.session.handle({ type: 'configure', config: { prune: 0.25 } });

    // The model as a file: the float64 reference queries over the decoded circuit are the oracle.
    const exported = (await h.ask({ kind: 'export', format: 'spc' })).result as ExportResult;
    expect(exported.fileName).toBe('hclt-k6-seed1.spc');
    const { circuit, meta } = decodeSpc(exported.bytes, exported.fileName);
    expect(meta).toMatchObject({ K: 6, dataset: (await data()).name });
    const oracle = new CpuQueries(compileCircuit(circuit), { capacity: 8 });

    const { valid } = splitTrainValid(await data(), CONFIG.validFrac, CONFIG.seed);
    const image = valid!.pixels.slice(0, 784);
    const score = (await h.ask({ kind: 'score', pixels: image })).result as ScoreResult;
    const ll = oracle.marginalSync({ pixels: image, count: 1 })[0];
    expect(score.logLikelihood).toBeCloseTo(ll, 9);
    expect(score.bpd).toBeCloseTo(-ll / (784 * Math.LN2), 12);
    expect(score.bpd).toBeGreaterThan(0.3);
    expect(score.bpd).toBeLessThan(4);
    expect(score.surprise).toBeInstanceOf(Float32Array);
    expect(score.surprise.length).toBe(784);
    const exactSurprise = oracle.conditionalSurpriseSync(image);
    for (let v = 0; v < 784; v++) {
      expect(Number.isFinite(score.surprise[v])).toBe(true);
      expect(score.surprise[v]).toBeLessThanOrEqual(0);
      expect(score.surprise[v]).toBeGreaterThanOrEqual(SURPRISE_FLOOR);
      expect(score.surprise[v]).toBeCloseTo(Math.max(SURPRISE_FLOOR, exactSurprise[v]), 4);
    }

    // Samples: the reference's draws for the same seed; inpainting keeps the observed pixels.
    const samples = (await h.ask({ kind: 'samples', count: 3, seed: 11 })).result as ImagesResult;
    expect(samples.count).toBe(3);
    expect(samples.pixels.length).toBe(3 * 784);
    expect(Array.from(samples.pixels)).toEqual(Array.from(oracle.sampleSync(3, 11)));
    const missing = new Uint8Array(784);
    missing.fill(1, 0, 392); // the top half is unknown
    const inpaint = (await h.ask({ kind: 'inpaint', pixels: image, missing, count: 2, seed: 5 })).result as ImagesResult;
    expect(inpaint.pixels.length).toBe(2 * 784);
    for (let d = 0; d < 2; d++) for (let v = 392; v < 784; v++) expect(inpaint.pixels[d * 784 + v]).toBe(image[v]);
    expect(Array.from(inpaint.pixels)).toEqual(Array.from(oracle.sampleSync(2, 5, { pixels: image, missing })));

    // Region detail: shapes agree, weights are rows of a distribution, flows sum to 1 per image.
    const variable = snap.parent.findIndex((p) => p >= 0);
    const region = (await h.ask({ kind: 'region', variable })).result as RegionDetail & { kind: 'region' };
    expect(region.parentVariable).toBe(snap.parent[variable]);
    expect(region.rows).toBe(snap.regionSize[region.parentVariable]);
    expect(region.cols).toBe(snap.regionSize[variable]);
    expect(region.rowPtr.length).toBe(region.rows + 1);
    const nnz = region.rowPtr[region.rows];
    expect(nnz).toBe(snap.regionEdges[variable]);
    for (const arr of [region.colIdx, region.weights, region.flows, region.marked]) expect(arr.length).toBe(nnz);
    for (let j = 0; j < region.rows; j++) expect(sum(region.weights.subarray(region.rowPtr[j], region.rowPtr[j + 1]))).toBeCloseTo(1, 5);
    expect(sum(region.flows)).toBeCloseTo(1, 4);
    expect(sum(region.marked)).toBe(0);
    expect(region.inputMeans.length).toBe(region.cols);
    for (const m of region.inputMeans) expect(m >= 0 && m <= 255).toBe(true);
    // The snapshot's edge information is the mutual information of exactly these flows.
    expect(snap.edgeInformation[variable]).toBeGreaterThanOrEqual(0);

    // bpd distribution: every validation image, centred where the validation bpd is.
    const dist = (await h.ask({ kind: 'bpdDistribution' })).result as Histogram & { kind: 'bpdDistribution' };
    expect(dist.total).toBe(60);
    expect(sum(dist.counts)).toBe(60);
    expect(dist.counts.length).toBe(40);
    expect(dist.min).toBeLessThan(dist.max);

    // Import what was exported: ok, then ready and a snapshot; the score is bit for bit the same.
    const order: string[] = [];
    const hook = (m: FromWorker): void => void order.push(m.type);
    h.hooks.push(hook);
    const imported = await h.ask({ kind: 'import', file: { name: exported.fileName, bytes: exported.bytes.slice().buffer } });
    expect(imported.result).toEqual({ kind: 'ok' });
    await h.next((m): m is FromWorker => m.type === 'snapshot');
    h.hooks.splice(h.hooks.indexOf(hook), 1);
    expect(order.filter((t) => t !== 'progress')).toEqual(['queryResult', 'ready', 'snapshot']);
    expect(h.session.position).toEqual({ round: 0, stage: 'epochs', epochsDone: 0 });
    const again = (await h.ask({ kind: 'score', pixels: image })).result as ScoreResult;
    expect(again.logLikelihood).toBe(score.logLikelihood);

    // Juice.jl text round trip: the same model to the text format's precision.
    const jpc = (await h.ask({ kind: 'export', format: 'jpc' })).result as ExportResult;
    expect(jpc.fileName).toBe('hclt-k6-seed1.jpc');
    expect(importJpc(new TextDecoder().decode(jpc.bytes), jpc.fileName).numVars).toBe(784);
    expect((await h.ask({ kind: 'import', file: { name: jpc.fileName, bytes: jpc.bytes.slice().buffer } })).result).toEqual({ kind: 'ok' });
    const fromJpc = (await h.ask({ kind: 'score', pixels: image })).result as ScoreResult;
    expect(fromJpc.logLikelihood).toBeCloseTo(score.logLikelihood, 6);

    // A model of another size is refused in one sentence and the current one stays.
    const rng = new Rng(4);
    const small = encodeSpc(buildTreeCircuit(randomTree(9, rng), 256, 2, rng));
    const wrong = await h.ask({ kind: 'import', file: { name: 'small.spc', bytes: small.slice().buffer } });
    expectOneSentence(wrong.error);
    expect(wrong.error).toMatch(/small\.spc is a model of 9 pixels/);
    expect(((await h.ask({ kind: 'score', pixels: image })).result as ScoreResult).logLikelihood).toBe(fromJpc.logLikelihood);

    // Bad queries: one sentence each.
    for (const q of [
      { kind: 'score', pixels: new Uint8Array(10) },
      { kind: 'samples', count: 0, seed: 1 },
      { kind: 'region', variable: 784 },
      { kind: 'import', file: { name: 'junk.spc', bytes: new Uint8Array([1, 2, 3]).buffer } },
    ] as Query[]) {
      expectOneSentence((await h.ask(q)).error);
    }

    // Play after the import runs the configured schedule on the imported model: no epochs now, one
    // round of prune (25 % since the configure above) and grow.
    h.session.handle({ type: 'configure', config: { epochs: 0, roundEpochs: 0 } });
    idle = h.idle();
    h.session.handle({ type: 'play' });
    expect((await idle).finished).toBe(true);
    const afterImport = h.events().slice(3);
    expect(afterImport.map((e) => e.event)).toEqual(['prune', 'grow']);
    const p2 = afterImport[0];
    if (p2.event !== 'prune') throw new Error('expected a prune');
    expectPruneCount(p2.removed_edges, 0.25, grow.edges);
    expect((afterImport[1] as { k: number }).k).toBe(12);
    expect(h.session.position).toEqual({ round: 1, stage: 'epochs', epochsDone: 0 });

    expect(h.messages.filter((m) => m.type === 'error')).toHaveLength(1); // the bad configure
    expect(h.messages.flatMap((m) => nonFinitePaths(m))).toEqual([]);
  }, 180_000);

  it('uses only the first `images` images when asked, and answers a query sent right after init once the model exists', async () => {
    const h = harness(await data());
    const ready = h.next((m): m is Extract<FromWorker, { type: 'ready' }> => m.type === 'ready');
    h.session.handle({ type: 'init', dataset: { kind: 'embedded', url: 'x' }, config: { ...CONFIG, images: 200, validFrac: 0.25 }, engine: 'cpu' });
    // Queued behind the build (the page's Import path sends init and the import back to back).
    const q = await h.ask({ kind: 'bpdDistribution' });
    const info = (await ready).info;
    expect(info.trainCount + info.validCount).toBe(200);
    expect(info.validCount).toBe(50);
    expect(q.error).toBeUndefined();
    expect(q.result).toMatchObject({ kind: 'bpdDistribution', total: 50 });
  });

  it('a configure sent while the model is still being built applies once it exists (and a later init drops it)', async () => {
    const h = harness(await data());
    // The init asks for 1 epoch and no rounds; the page raises it to 3 before the build is done (the
    // dense comparison extends its run this way).
    h.session.handle({ type: 'init', dataset: { kind: 'embedded', url: 'x' }, config: { ...CONFIG, epochs: 1, rounds: 0, images: 200 }, engine: 'cpu' });
    h.session.handle({ type: 'configure', config: { epochs: 3 } });
    h.session.handle({ type: 'play' });
    await h.idle();
    expect(h.events().filter((e) => e.event === 'epoch')).toHaveLength(3);
    expect(h.session.position).toMatchObject({ round: 0, epochsDone: 3 });

    const h2 = harness(await data());
    h2.session.handle({ type: 'configure', config: { epochs: 3 } });
    h2.session.handle({ type: 'init', dataset: { kind: 'embedded', url: 'x' }, config: { ...CONFIG, epochs: 1, rounds: 0, images: 200 }, engine: 'cpu' });
    h2.session.handle({ type: 'play' });
    await h2.idle();
    expect(h2.events().filter((e) => e.event === 'epoch')).toHaveLength(1);
  });

  it('starts from a model file when init carries one (the demo model): no HCLT build, queries answer with that model', async () => {
    // A model of the same data, trained elsewhere and saved compact (.spc version 2), as the page's demo is.
    const { train, valid } = splitTrainValid(await data(), CONFIG.validFrac, CONFIG.seed);
    const cfg = { ...DEFAULT_TRAIN_CONFIG, ...CONFIG, K: 2, fullBatch: false, patience: Infinity };
    const t = await Trainer.create(cfg, new CpuEngine({ threads: 1, precision: 'float32' }), train, valid);
    await t.epoch();
    await t.prune(0.5);
    await t.grow(0.5);
    const bytes = encodeSpc(await t.snapshot(), { K: 4 }, { version: 2 });
    const circuit = decodeSpc(bytes, 'demo.spc').circuit;

    const h = harness(await data());
    const ready = h.next((m): m is Extract<FromWorker, { type: 'ready' }> => m.type === 'ready');
    const snap = h.next((m): m is Extract<FromWorker, { type: 'snapshot' }> => m.type === 'snapshot');
    h.session.handle({
      type: 'init',
      dataset: { kind: 'embedded', url: 'x' },
      config: { ...CONFIG },
      engine: 'cpu',
      model: { name: 'demo.spc', bytes: bytes.slice().buffer },
    });
    const info = (await ready).info;
    expect(info.edges).toBe(compileCircuit(circuit).numEdges);
    expect(info.K).toBe(4);
    expect((await snap).snapshot.regionSize).toEqual(Int32Array.from(circuit.regions, (r) => r.size));
    const tasks = h.messages.flatMap((m) => (m.type === 'progress' ? [m.task] : []));
    expect(tasks).not.toContain('build');
    expect(h.session.position).toEqual({ round: 0, stage: 'epochs', epochsDone: 0 });
    // The score is the loaded circuit's, by the float64 reference.
    const image = train.pixels.slice(0, 784);
    const score = (await h.ask({ kind: 'score', pixels: image })).result as ScoreResult;
    const ref = new CpuQueries(compileCircuit(circuit), { capacity: 8 });
    expect(score.logLikelihood).toBeCloseTo(ref.marginalSync({ pixels: image, count: 1 })[0], 9);
    expect(((await h.ask({ kind: 'samples', count: 2, seed: 1 })).result as ImagesResult).count).toBe(2);

    // A model file that does not fit the data fails the init in one sentence.
    const other = harness(await data());
    const rng = new Rng(4);
    const small = encodeSpc(buildTreeCircuit(randomTree(9, rng), 256, 2, rng));
    other.session.handle({
      type: 'init',
      dataset: { kind: 'embedded', url: 'x' },
      config: { ...CONFIG },
      engine: 'cpu',
      model: { name: 'small.spc', bytes: small.slice().buffer },
    });
    const err = await other.next((m): m is Extract<FromWorker, { type: 'error' }> => m.type === 'error');
    expectOneSentence(err.message);
    expect(err.message).toMatch(/^small\.spc is a model of 9 pixels/);
  });

  it('refuses bad settings and queries before a model in one sentence', async () => {
    const h = harness(await data());
    const q = await h.ask({ kind: 'samples', count: 1, seed: 1 });
    expectOneSentence(q.error);
    h.session.handle({ type: 'init', dataset: { kind: 'embedded', url: 'x' }, config: { ...CONFIG, K: 0 }, engine: 'cpu' });
    await new Promise((r) => setTimeout(r, 10));
    const err = h.messages.find((m) => m.type === 'error') as { message: string };
    expectOneSentence(err.message);
    expect(err.message).toMatch(/K must be a whole number/);
  });
});

describe('browser engine choice', () => {
  it('falls back to the CPU engine with a notice when WebGPU or its adapter is missing', async () => {
    const notices: string[] = [];
    const shaders = () => ({});
    const none = await createBrowserEngine('auto', (m) => notices.push(m), { gpu: undefined, shaders });
    expect(none.engine.kind).toBe('cpu');
    const noAdapter = await createBrowserEngine('gpu', (m) => notices.push(m), { gpu: { requestAdapter: async () => null } as unknown as GPU, shaders });
    expect(noAdapter.engine.kind).toBe('cpu');
    const cpu = await createBrowserEngine('cpu', (m) => notices.push(m), { gpu: undefined, shaders });
    expect(cpu.engine.adapter).toBe('CPU float32, 1 thread');
    expect(notices).toEqual([NO_WEBGPU_NOTICE, NO_ADAPTER_NOTICE]);
    for (const n of notices) expectOneSentence(n);
  });
});

describe('PlaygroundSession on the WebGPU engine (SwiftShader in Node)', () => {
  it('fast speed (fused epochs) and normal speed behind the CPU fallback give the same numbers', async () => {
    // A small random image set keeps SwiftShader quick; 4 x 4 pixels with 8 values.
    const small: Dataset = { ...randomDataset(240, 16, 8, 3), rows: 4, cols: 4 };
    const config: RunConfig = { ...CONFIG, batch: 32, step: 0.2, sigma: 0.3 };
    const runs: Array<{ events: Array<Record<string, unknown>>; ll: number; info: Extract<FromWorker, { type: 'ready' }>['info'] }> = [];
    for (const mode of ['fused', 'fallback'] as const) {
      const gpu = await createNodeGpuEngine({ maxChunk: 64 });
      const engine =
        mode === 'fused'
          ? gpu
          : new FallbackEngine(
              gpu,
              () => new CpuEngine(),
              () => {},
            );
      const h = harness(small, async () => ({ engine, gpuBytes: () => gpu.liveBytes() }));
      try {
        await h.init(config);
        h.session.handle({ type: 'speed', speed: mode === 'fused' ? 'fast' : 'normal' });
        const idle = h.idle();
        h.session.handle({ type: 'play' });
        expect((await idle).finished).toBe(true);
        const score = (await h.ask({ kind: 'score', pixels: small.pixels.slice(0, 16) })).result as ScoreResult;
        const info = (h.messages.find((m) => m.type === 'ready') as Extract<FromWorker, { type: 'ready' }>).info;
        runs.push({ events: h.events().map(untimed), ll: score.logLikelihood, info });
        expect(h.messages.filter((m) => m.type === 'error' || m.type === 'notice')).toEqual([]);
        expect(h.messages.flatMap((m) => nonFinitePaths(m))).toEqual([]);
      } finally {
        engine.dispose();
      }
    }
    expect(runs[0].info).toMatchObject({ engine: 'gpu', K: 3 });
    expect(runs[0].info.gpuBytes).toBeGreaterThan(0);
    expect(runs[0].events.map((e) => e.event)).toEqual(['epoch', 'epoch', 'prune', 'grow', 'epoch']);
    expect(runs[1].events).toEqual(runs[0].events);
    expect(runs[1].ll).toBe(runs[0].ll);
  }, 120_000);
});
