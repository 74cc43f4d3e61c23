// The GPU engine's kernels as small declarative records: which WGSL file and entry point, and which
// of the module's bindings that entry point uses. Pipelines use layout 'auto', which keeps only the
// bindings an entry point statically uses, so a bind group must name exactly those; binding numbers
// come from parsing the WGSL itself (one source of truth). Buffer names are the WGSL variable names.

export interface KernelSpec {
  shader: string;
  entry: string;
  uses: readonly string[];
}

export const KERNELS = {
  pixels: { shader: 'pixels', entry: 'main', uses: ['bat', 'lay', 'data', 'miss', 'idx', 'pix'] },
  product: { shader: 'product', entry: 'main', uses: ['bat', 'lay', 'childPtr', 'childNode', 'inputVar', 'logProb', 'pix', 'val'] },
  regionMax: { shader: 'region_max', entry: 'main', uses: ['bat', 'lay', 'regions', 'val', 'ex', 'rmax', 'regionChild'] },
  regionMaxReduce: { shader: 'region_max', entry: 'reduce', uses: ['bat', 'lay', 'regions', 'val', 'ex', 'rmax', 'regionChild'] },
  sumGemm: { shader: 'sum_gemm', entry: 'gemm', uses: ['bat', 'lay', 'regions', 'denseOff', 'wdense', 'ex', 'val', 'flow'] },
  denseScatter: { shader: 'sum_gemm', entry: 'scatter', uses: ['lay', 'denseIdx', 'weight', 'wmirror'] },
  edgeFlowGemm: { shader: 'edge_gemm', entry: 'main', uses: ['bat', 'lay', 'regions', 'denseOff', 'denseEdge', 'weight', 'ex', 'flow', 'acc', 'val'] },
  regionForward: { shader: 'region_forward', entry: 'main', uses: ['bat', 'lay', 'regionFwd', 'logProb', 'pix', 'edgeChild', 'weight', 'val', 'ex', 'rmax'] },
  regionBackward: { shader: 'region_backward', entry: 'main', uses: ['bat', 'lay', 'regions', 'parentPtr', 'parentNode', 'parentEdge', 'weight', 'ex', 'flow', 'val'] },
  sumTiled: { shader: 'sum_forward', entry: 'tiled', uses: ['bat', 'lay', 'regions', 'edgePtr', 'edgeChild', 'weight', 'ex', 'val'] },
  sumGather: { shader: 'sum_forward', entry: 'gather', uses: ['bat', 'lay', 'regions', 'edgePtr', 'edgeChild', 'weight', 'ex', 'val'] },
  sumFlow: { shader: 'sum_flow', entry: 'main', uses: ['bat', 'lay', 'parentPtr', 'parentNode', 'ex', 'flow'] },
  productFlow: { shader: 'product_flow', entry: 'main', uses: ['bat', 'lay', 'parentPtr', 'parentNode', 'parentEdge', 'weight', 'ex', 'flow', 'val'] },
  edgeFlow: { shader: 'edge_flow', entry: 'main', uses: ['bat', 'lay', 'edgeNode', 'edgeChild', 'weight', 'ex', 'flow', 'acc', 'val'] },
  edgeFlowPerEdge: { shader: 'edge_flow', entry: 'per_edge', uses: ['bat', 'lay', 'edgeNode', 'edgeChild', 'weight', 'ex', 'flow', 'acc', 'val'] },
  inputHist: { shader: 'input_hist', entry: 'main', uses: ['bat', 'lay', 'parentPtr', 'parentNode', 'inputVar', 'pix', 'flow', 'hist'] },
  emSum: { shader: 'em_sum', entry: 'main', uses: ['em', 'lay', 'sumNodes', 'edgePtr', 'acc', 'weight', 'logWeight'] },
  inputHistTiled: { shader: 'input_hist', entry: 'tiled', uses: ['bat', 'lay', 'parentPtr', 'parentNode', 'inputVar', 'pix', 'flow', 'hist'] },
  emInput: { shader: 'em_input', entry: 'main', uses: ['em', 'lay', 'hist', 'logProb'] },
  emInputReduce: { shader: 'em_input', entry: 'reduce', uses: ['em', 'lay', 'hist', 'logProb'] },
  markedPartial: { shader: 'marked', entry: 'partial', uses: ['bat', 'lay', 'regionFwd', 'marked', 'val', 'edgeChild', 'weight', 'ex', 'flow', 'part'] },
  markedTotal: { shader: 'marked', entry: 'total', uses: ['bat', 'lay', 'part', 'out'] },
} as const satisfies Record<string, KernelSpec>;

export type KernelName = keyof typeof KERNELS;

/** The WGSL files the engine needs (keys of the shader-source record). */
export const SHADER_FILES = [...new Set(Object.values(KERNELS).map((k) => k.shader))];

/** Binding number of each `@group(0) @binding(N) var... name` declaration in a WGSL module. */
export function parseBindings(wgsl: string): Map<string, number> {
  const out = new Map<string, number>();
  const re = /@group\(0\)\s*@binding\((\d+)\)\s*var(?:<[^>]*>)?\s+(\w+)\s*:/g;
  for (let m = re.exec(wgsl); m; m = re.exec(wgsl)) out.set(m[2], Number(m[1]));
  return out;
}

/** Checks that every kernel's shader is present and declares the bindings the kernel uses. */
export function checkShaderSources(sources: Record<string, string>): void {
  if (sources.common === undefined) throw new Error("GPU engine: shader 'common.wgsl' (the shared declarations) is missing");
  for (const [name, k] of Object.entries(KERNELS)) {
    const src = sources[k.shader];
    if (src === undefined) throw new Error(`GPU engine: shader '${k.shader}.wgsl' is missing (kernel ${name})`);
    const b = parseBindings(src);
    for (const u of k.uses) if (!b.has(u)) throw new Error(`GPU engine: ${k.shader}.wgsl declares no binding '${u}' (kernel ${name})`);
  }
}
