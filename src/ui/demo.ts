// The demo model the playground opens with: a small sparse circuit trained on the embedded digits
// (HCLT, EM, one prune -> grow -> EM round) by scripts/build-demo-model.ts and shipped as
// public/models/demo.spc (.spc version 2, the compact form) with public/models/demo.json beside it,
// which records how it was made and the validation bpd it scores. The page loads it on a first visit
// (no link, nothing remembered) or for a link with `model=demo`, so drawing, samples, fill-in and the
// circuit view work before any training; Play trains a new model from the settings as always.
// Pure: the page fetches, the script writes and the test reads the same shapes.

import type { DroppedFile, RunConfig } from '../worker/protocol.ts';

/** Paths under public/ (copied next to index.html). Named .spc/.json, never .gz: static servers would
 *  otherwise add a Content-Encoding and hand the page other bytes. */
export const DEMO_MODEL_FILE = 'models/demo.spc';
export const DEMO_INFO_FILE = 'models/demo.json';

/** demo.json: everything needed to rebuild the model and to check the shipped file. */
export interface DemoInfo {
  /** The model file's name (next to this JSON), its size in bytes and SHA-256 (hex). */
  file: string;
  bytes: number;
  sha256: string;
  /** .spc format version of the file. */
  format: number;
  /** The command that rebuilds both files. */
  command: string;
  /** The embedded digits (the only data a link or the page's first visit can name). */
  data: 'embedded';
  /** The playground's run settings it was trained with (the split comes from validFrac, seed, images). */
  settings: RunConfig;
  /** Training images and validation images of that split. */
  split: { train: number; valid: number };
  /** The CPU engine it was trained on (results depend on the shard count: see the CPU engine). */
  engine: { kind: 'cpu'; precision: 'float32'; threads: number };
  /** What was done, in order (EM epochs, prune, grow, EM epochs). */
  schedule: string;
  /** The circuit as shipped. */
  structure: { K: number; kMin: number; kMedian: number; kMax: number; edges: number; params: number };
  /** Validation bpd of the shipped file as loaded, on the CPU engine in float64 (1 thread). */
  validBpd: number;
  /** The same before saving (float64 parameters), and the size the model takes as .spc version 1. */
  validBpdBeforeSaving: number;
  version1Bytes: number;
  /** Seconds the build took, for the record (not part of the model). */
  seconds: number;
}

/** The demo as the store loads it: the model file, the settings of its split, and what to say about it. */
export interface DemoModel {
  file: DroppedFile;
  config: RunConfig;
  /** One clause for the page: "K = 6 HCLT ..., validation bpd 1.4993". */
  description: string;
  validBpd: number;
}

/** "K = 6 HCLT trained 4 epochs, pruned 75 % by flow, grown to K = 12 (24,986 sum edges), 6 more epochs; validation bpd 1.4993". */
export function describeDemo(info: DemoInfo): string {
  const s = info.settings;
  const st = info.structure;
  const pct = Math.round(s.prune * 100);
  return (
    `a K = ${s.K} HCLT trained on the embedded digits for ${s.epochs} epochs, pruned ${pct} % by ${s.criterion} and grown to K = ${st.K} ` +
    `(${st.edges.toLocaleString('en-US')} sum edges), then ${s.roundEpochs} more epochs; validation bpd ${info.validBpd.toFixed(4)}`
  );
}

/** Checks a parsed demo.json enough for the page to use it (a stale or foreign file gives one sentence). */
export function checkDemoInfo(x: unknown): DemoInfo {
  const o = x as Partial<DemoInfo> | null;
  const ok =
    o !== null &&
    typeof o === 'object' &&
    typeof o.file === 'string' &&
    typeof o.validBpd === 'number' &&
    o.data === 'embedded' &&
    typeof o.settings === 'object' &&
    o.settings !== null &&
    typeof o.structure === 'object' &&
    o.structure !== null;
  if (!ok) throw new Error(`${DEMO_INFO_FILE} does not describe a demo model.`);
  return o as DemoInfo;
}

/** Fetches demo.json and the model file next to the page at `base` (document.baseURI). */
export async function fetchDemoModel(base: string): Promise<DemoModel> {
  const get = async (path: string): Promise<Response> => {
    const r = await fetch(new URL(path, base).href);
    if (!r.ok) throw new Error(`${path}: HTTP ${`${r.status} ${r.statusText}`.trim()}`);
    return r;
  };
  const [infoResponse, modelResponse] = await Promise.all([get(DEMO_INFO_FILE), get(DEMO_MODEL_FILE)]);
  const info = checkDemoInfo(await infoResponse.json());
  const bytes = await modelResponse.arrayBuffer();
  return { file: { name: 'demo.spc', bytes }, config: { ...info.settings }, description: describeDemo(info), validBpd: info.validBpd };
}
