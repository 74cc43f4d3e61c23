// The GPU engine's kernels as small declarative records: which WGSL file and entry point, which of
// the module's bindings that entry point uses, and the named fields of its layer uniform `lay`.
// Pipelines use layout 'auto', which keeps only the bindings an entry point statically uses, so a
// bind group must name exactly those; binding numbers come from parsing the WGSL itself (one source
// of truth). Buffer names are the WGSL variable names. The layer fields are the WGSL struct of `lay`
// in that file, in order (checkShaderSources compares them), and `layerWords` packs a dispatch's
// values by name. shaders/README.md has the table in words, with each kernel's CPU equivalent.

export interface KernelSpec {
  shader: string;
  entry: string;
  uses: readonly string[];
  /** Fields of the shader's layer-uniform struct, in declaration order ([] when it binds no `lay`). */
  layer: readonly string[];
}

const REGION_RANGE = ['firstRegion', 'regions'] as const;
const NODE_RANGE = ['firstNode', 'nodes'] as const;
const GEMM_LAYER = ['firstRegion', 'regions', 'rowTiles', 'inner', 'mode', 'edges'] as const;
const SUM_LAYER = ['firstRegion', 'regions', 'rowBlocks', 'firstNode', 'nodes'] as const;
const INPUT_LAYER = ['firstInput', 'inputs', 'numValues'] as const;
const EDGE_LAYER = ['firstEdge', 'edges'] as const;

export const KERNELS = {
  pixels: { shader: 'pixels', entry: 'main', uses: ['bat', 'lay', 'data', 'miss', 'idx', 'pix'], layer: ['numVars'] },
  product: {
    shader: 'product',
    entry: 'main',
    uses: ['bat', 'lay', 'childPtr', 'childNode', 'inputVar', 'logProb', 'pix', 'val'],
    layer: ['firstNode', 'nodes', 'numInputs', 'numValues'],
  },
  regionMax: { shader: 'region_max', entry: 'main', uses: ['bat', 'lay', 'regions', 'val', 'ex', 'rmax', 'regionWords'], layer: REGION_RANGE },
  regionMaxReduce: { shader: 'region_max', entry: 'reduce', uses: ['bat', 'lay', 'regions', 'val', 'ex', 'rmax', 'regionWords'], layer: REGION_RANGE },
  sumGemm: { shader: 'sum_gemm', entry: 'gemm', uses: ['bat', 'lay', 'regions', 'denseOff', 'wdense', 'ex', 'val', 'flow'], layer: GEMM_LAYER },
  denseScatter: { shader: 'sum_gemm', entry: 'scatter', uses: ['lay', 'denseIdx', 'weight', 'wmirror'], layer: GEMM_LAYER },
  edgeFlowGemm: {
    shader: 'edge_gemm',
    entry: 'main',
    uses: ['bat', 'lay', 'regions', 'denseOff', 'denseEdge', 'weight', 'ex', 'flow', 'acc', 'val'],
    layer: ['firstRegion', 'regions', 'rowTiles', 'colTiles'],
  },
  regionForward: {
    shader: 'region_forward',
    entry: 'main',
    uses: ['bat', 'lay', 'regionWords', 'logProb', 'pix', 'edgeChild', 'weight', 'val', 'ex', 'rmax'],
    layer: ['firstRegion', 'regions', 'rowBlocks', 'numValues'],
  },
  regionBackward: {
    shader: 'region_backward',
    entry: 'main',
    uses: ['bat', 'lay', 'regions', 'parentPtr', 'parentNode', 'parentEdge', 'weight', 'ex', 'flow', 'val'],
    layer: ['firstRegion', 'regions', 'productBlocks'],
  },
  sumTiled: { shader: 'sum_forward', entry: 'tiled', uses: ['bat', 'lay', 'regions', 'edgePtr', 'edgeChild', 'weight', 'ex', 'val'], layer: SUM_LAYER },
  sumGather: { shader: 'sum_forward', entry: 'gather', uses: ['bat', 'lay', 'regions', 'edgePtr', 'edgeChild', 'weight', 'ex', 'val'], layer: SUM_LAYER },
  sumFlow: { shader: 'sum_flow', entry: 'main', uses: ['bat', 'lay', 'parentPtr', 'parentNode', 'ex', 'flow'], layer: NODE_RANGE },
  productFlow: {
    shader: 'product_flow',
    entry: 'main',
    uses: ['bat', 'lay', 'parentPtr', 'parentNode', 'parentEdge', 'weight', 'ex', 'flow', 'val'],
    layer: NODE_RANGE,
  },
  edgeFlow: { shader: 'edge_flow', entry: 'main', uses: ['bat', 'lay', 'edgeNode', 'edgeChild', 'weight', 'ex', 'flow', 'acc', 'val'], layer: EDGE_LAYER },
  edgeFlowPerEdge: {
    shader: 'edge_flow',
    entry: 'per_edge',
    uses: ['bat', 'lay', 'edgeNode', 'edgeChild', 'weight', 'ex', 'flow', 'acc', 'val'],
    layer: EDGE_LAYER,
  },
  inputHist: {
    shader: 'input_hist',
    entry: 'main',
    uses: ['bat', 'lay', 'parentPtr', 'parentNode', 'inputVar', 'pix', 'flow', 'hist'],
    layer: INPUT_LAYER,
  },
  inputHistTiled: {
    shader: 'input_hist',
    entry: 'tiled',
    uses: ['bat', 'lay', 'parentPtr', 'parentNode', 'inputVar', 'pix', 'flow', 'hist'],
    layer: INPUT_LAYER,
  },
  emSum: { shader: 'em_sum', entry: 'main', uses: ['em', 'lay', 'sumNodes', 'edgePtr', 'acc', 'weight', 'logWeight'], layer: ['firstSum', 'sums'] },
  emInput: { shader: 'em_input', entry: 'main', uses: ['em', 'lay', 'hist', 'logProb'], layer: INPUT_LAYER },
  emInputReduce: { shader: 'em_input', entry: 'reduce', uses: ['em', 'lay', 'hist', 'logProb'], layer: INPUT_LAYER },
  markedPartial: {
    shader: 'marked',
    entry: 'partial',
    uses: ['bat', 'lay', 'regionWords', 'marked', 'val', 'edgeChild', 'weight', 'ex', 'flow', 'part'],
    layer: REGION_RANGE,
  },
  markedTotal: { shader: 'marked', entry: 'total', uses: ['bat', 'lay', 'part', 'out'], layer: REGION_RANGE },
  // The playground's sampler (src/engines/gpu/queries.ts): its own uniform `params`, no layer.
  sample: {
    shader: 'sample',
    entry: 'main',
    uses: ['params', 'regions', 'edgePtr', 'edgeChild', 'weight', 'inputProb', 'evidence', 'choice', 'pixels'],
    layer: [],
  },
} as const satisfies Record<string, KernelSpec>;

export type KernelName = keyof typeof KERNELS;

/** A kernel's layer-uniform values by field name (fields left out are 0). */
export type LayerValues<K extends KernelName> = Partial<Record<(typeof KERNELS)[K]['layer'][number], number>>;

/** Bytes of one layer-uniform slot (the largest layer struct has 6 u32 fields). */
export const LAYER_BYTES = 32;

/** The layer uniform's words for `kernel`: each named value at its field's position. */
export function layerWords<K extends KernelName>(kernel: K, values: LayerValues<K>): Uint32Array {
  const fields: readonly string[] = KERNELS[kernel].layer;
  const out = new Uint32Array(LAYER_BYTES / 4);
  for (const [name, v] of Object.entries(values) as Array<[string, number]>) {
    const at = fields.indexOf(name);
    if (at < 0) throw new Error(`internal: kernel ${kernel} has no layer field '${name}'`);
    out[at] = v;
  }
  return out;
}

/** Extra WGSL files put between common.wgsl and a kernel's own file (WGSL has no includes). */
export const SHADER_PRELUDES: Readonly<Record<string, readonly string[]>> = {
  region_forward: ['region_words'],
  marked: ['region_words'],
};

/** The WGSL files the engine needs (keys of the shader-source record). */
export const SHADER_FILES = [...new Set([...Object.values(KERNELS).map((k) => k.shader), 'common', ...Object.values(SHADER_PRELUDES).flat()])];

/** A kernel module's full source: common.wgsl, its preludes, then its own file. */
export function moduleSource(sources: Record<string, string>, shader: string): string {
  return [sources.common, ...(SHADER_PRELUDES[shader] ?? []).map((p) => sources[p]), sources[shader]].join('\n');
}

/** Binding number of each `@group(0) @binding(N) var... name` declaration in a WGSL module. */
export function parseBindings(wgsl: string): Map<string, number> {
  const out = new Map<string, number>();
  const re = /@group\(0\)\s*@binding\((\d+)\)\s*var(?:<[^>]*>)?\s+(\w+)\s*:/g;
  for (let m = re.exec(wgsl); m; m = re.exec(wgsl)) out.set(m[2], Number(m[1]));
  return out;
}

/** Field names of the struct that the uniform `lay` has as its type, or null without `lay`. */
export function parseLayerFields(wgsl: string): string[] | null {
  const type = /var<uniform>\s+lay\s*:\s*(\w+)\s*;/.exec(wgsl)?.[1];
  if (!type) return null;
  const body = new RegExp(`struct\\s+${type}\\s*\\{([^}]*)\\}`).exec(wgsl)?.[1];
  if (body === undefined) throw new Error(`GPU engine: no struct ${type} for the layer uniform`);
  return [...body.matchAll(/(\w+)\s*:/g)].map((m) => m[1]);
}

/** Checks that every kernel's shader is present, declares the bindings the kernel uses, and that its
 *  layer struct has the fields of the kernel's record. */
export function checkShaderSources(sources: Record<string, string>): void {
  for (const f of SHADER_FILES) {
    if (sources[f] === undefined && !Object.values(KERNELS).some((k) => k.shader === f)) {
      throw new Error(`GPU engine: shader '${f}.wgsl' (shared declarations) is missing`);
    }
  }
  for (const [name, k] of Object.entries(KERNELS)) {
    const src = sources[k.shader];
    if (src === undefined) throw new Error(`GPU engine: shader '${k.shader}.wgsl' is missing (kernel ${name})`);
    const b = parseBindings(src);
    for (const u of k.uses) if (!b.has(u)) throw new Error(`GPU engine: ${k.shader}.wgsl declares no binding '${u}' (kernel ${name})`);
    const fields = parseLayerFields(moduleSource(sources, k.shader));
    if ((fields ?? []).join(',') !== k.layer.join(',')) {
      throw new Error(`GPU engine: ${k.shader}.wgsl's layer struct has fields [${fields ?? []}], kernel ${name} expects [${k.layer}]`);
    }
  }
}
