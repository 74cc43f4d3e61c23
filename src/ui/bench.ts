// bench.html: the engine benchmark on the visitor's own GPU (and the CPU engine for comparison),
// the same measurements as `npm run cli -- bench` (src/training/bench.ts). Results appear in the
// tables and, as JSON lines, in the hidden <pre data-testid="bench-json"> for scripts.
import { chowLiuTree } from '../circuit/hclt.ts';
import { embeddedDataUrl, fetchEmbeddedDataset } from '../data/fetch.ts';
import { CpuEngine } from '../engines/cpu/engine.ts';
import type { Engine } from '../engines/engine.ts';
import { GpuEngine, HEIGHT_KERNEL_CHOICES, type HeightKernelChoice } from '../engines/gpu/engine.ts';
import { loadViteShaders } from '../engines/gpu/shaders-vite.ts';
import { benchOne, benchSample, type BenchRow } from '../training/bench.ts';

const params = new URLSearchParams(location.search);
const intList = (name: string, fallback: number[]): number[] => {
  const raw = params.get(name);
  const list = raw
    ? raw
        .split(',')
        .map(Number)
        .filter((k) => Number.isInteger(k) && k >= 1 && k <= 1024)
    : [];
  return list.length > 0 ? list : fallback;
};
const ks = intList('k', [16, 32]);
const batch = intList('batch', [512])[0];
const batches = intList('batches', [4])[0];
const pruneRaw = Number(params.get('prune') ?? '0.75');
const prune = pruneRaw >= 0 && pruneRaw < 1 ? pruneRaw : 0.75;
const withCpu = params.get('cpu') !== '0';
const repeats = intList('repeat', [3])[0];
// kernels=height: the GPU engine's forward and backward as one kernel per height of the circuit.
const kernelsRaw = params.get('kernels');
const kernels: HeightKernelChoice = HEIGHT_KERNEL_CHOICES.find((c) => c === kernelsRaw) ?? 'auto';
// tune=1 / tune=0: kernel tuning on or off (default: on for real GPUs, off on software adapters).
const tuneRaw = params.get('tune');
const tuneKernels = tuneRaw === '1' ? true : tuneRaw === '0' ? false : undefined;

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const status = (text: string): void => {
  $('status').textContent = text;
};

function cell(text: string): HTMLTableCellElement {
  const td = document.createElement('td');
  td.textContent = text; // never HTML
  return td;
}

function addRow(r: BenchRow): void {
  const tr = document.createElement('tr');
  const fmt = (x: number | undefined, digits = 0) => (x === undefined ? '–' : x.toFixed(digits));
  const kernelText = r.kernels ? (r.pruned_kernels ? `${r.kernels}; pruned: ${r.pruned_kernels}` : r.kernels) : '–';
  for (const t of [
    r.engine,
    r.adapter,
    String(r.k),
    String(r.edges),
    fmt(r.forward_samples_per_s),
    fmt(r.train_samples_per_s),
    r.train_edge_samples_per_s.toExponential(2),
    r.pruned_edges === undefined ? '–' : String(r.pruned_edges),
    fmt(r.pruned_train_samples_per_s),
    fmt(r.pruned_speedup, 2),
    kernelText,
  ]) {
    tr.appendChild(cell(t));
  }
  $('results').querySelector('tbody')!.appendChild(tr);
  for (const l of r.layer_ms ?? []) {
    const lr = document.createElement('tr');
    for (const t of [String(r.k), l.label, l.ms.toFixed(3)]) lr.appendChild(cell(t));
    $('layers').querySelector('tbody')!.appendChild(lr);
  }
  for (const [phase, tuning] of [
    ['unpruned', r.kernel_tuning_ms],
    ['pruned', r.pruned_kernel_tuning_ms],
  ] as const) {
    for (const [pass, candidates] of Object.entries(tuning ?? {})) {
      const tr = document.createElement('tr');
      const text = Object.entries(candidates)
        .map(([family, ms]) => `${family} ${ms.toFixed(3)}`)
        .join(', ');
      for (const t of [String(r.k), phase, pass, text]) tr.appendChild(cell(t));
      $('tuning').querySelector('tbody')!.appendChild(tr);
    }
  }
  const pre = $('json');
  pre.textContent += JSON.stringify(r) + '\n';
}

async function gpuEngine(): Promise<Engine | null> {
  try {
    return await GpuEngine.create(navigator.gpu, { shaders: loadViteShaders(), timings: true, forwardKernel: kernels, backwardKernel: kernels, tuneKernels });
  } catch (e) {
    const err = $('error');
    err.hidden = false;
    err.textContent = `WebGPU: ${e instanceof Error ? e.message : String(e)}`;
    return null;
  }
}

async function run(): Promise<void> {
  const button = $<HTMLButtonElement>('run');
  button.disabled = true;
  try {
    status('loading the digits…');
    const all = await fetchEmbeddedDataset(embeddedDataUrl(document.baseURI));
    status('building the Chow-Liu tree…');
    await new Promise((r) => setTimeout(r, 0));
    const tree = chowLiuTree(all);
    const timed = benchSample(all, batch * batches);
    const engines: Array<[string, () => Promise<Engine | null>]> = [[kernels === 'auto' ? 'gpu' : `gpu (${kernels} kernels)`, gpuEngine]];
    if (withCpu) engines.push(['cpu', async () => new CpuEngine({ precision: 'float32' })]);
    for (const [name, make] of engines) {
      const engine = await make();
      if (!engine) continue;
      try {
        for (const k of ks) {
          status(`${name}, K=${k}…`);
          addRow(await benchOne(engine, name, tree, timed, k, batch, prune, repeats));
        }
      } finally {
        engine.dispose();
      }
    }
    status('done');
  } catch (e) {
    const err = $('error');
    err.hidden = false;
    err.textContent = e instanceof Error ? e.message : String(e);
    status('stopped');
  } finally {
    button.disabled = false;
  }
}

$('run').addEventListener('click', () => void run());
if (params.get('autorun') === '1') void run();
