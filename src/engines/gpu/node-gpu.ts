// WebGPU in Node through the `webgpu` package (Dawn). Finds an adapter on its own: the default
// Vulkan drivers first when the machine has GPU hardware; when they give none and Chromium's SwiftShader driver is installed, points
// the Vulkan loader at it (VK_ICD_FILENAMES, read when a Dawn instance is created, so a second
// `create([])` after setting it sees SwiftShader) and says so in the adapter note.
// The found GPU is cached per process: one Dawn instance serves every engine.
import { existsSync, readdirSync } from 'node:fs';
import os from 'node:os';
import { GpuUnavailableError } from './device.ts';
import { GpuEngine, type GpuEngineOptions } from './engine.ts';
import { loadNodeShaders } from './shaders-node.ts';

export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

export interface NodeGpu {
  gpu: GPU;
  /** Why this adapter, when it is not the default one. */
  note?: string;
}

let found: Promise<NodeGpu> | null = null;

async function find(): Promise<NodeGpu> {
  process.env.XDG_RUNTIME_DIR ??= os.tmpdir();
  let mod: { create: (o: string[]) => GPU; globals: object };
  try {
    mod = (await import('webgpu')) as unknown as typeof mod;
  } catch (e) {
    const why = (e as Error).message.split('\n')[0];
    throw new GpuUnavailableError('no-webgpu', `WebGPU is not available in Node (the 'webgpu' package did not load: ${why}); use --engine cpu.`);
  }
  // The package's globals (GPUBufferUsage, ...) for code written against the browser API.
  for (const [k, v] of Object.entries(mod.globals)) if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
  const userIcd = process.env.VK_ICD_FILENAMES;
  // The default drivers, when there is GPU hardware for them to drive: without it the Vulkan loader
  // and Dawn only print warnings (no device found; Mesa's lavapipe, which Dawn rejects).
  if (userIcd || hasGpuHardware()) {
    const gpu = mod.create([]);
    if (await gpu.requestAdapter()) return { gpu, note: userIcd ? `VK_ICD_FILENAMES=${userIcd}` : undefined };
  }
  if (!userIcd && existsSync(SWIFTSHADER_ICD)) {
    process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
    const sw = mod.create([]);
    if (await sw.requestAdapter()) return { gpu: sw, note: "Chromium's SwiftShader, no other adapter found" };
  }
  const noSwiftShader = existsSync(SWIFTSHADER_ICD) ? ', not even SwiftShader' : `, and no SwiftShader at ${SWIFTSHADER_ICD}`;
  const where = userIcd ? ` at VK_ICD_FILENAMES=${userIcd}` : noSwiftShader;
  throw new GpuUnavailableError(
    'no-adapter',
    `WebGPU in Node found no GPU adapter (no Vulkan driver${where}); install a Vulkan driver (or the chromium package) or use --engine cpu.`,
  );
}

/** A GPU device node for a Vulkan driver: NVIDIA's, or a DRM render node (Mesa, AMD, Intel). */
function hasGpuHardware(): boolean {
  if (existsSync('/dev/nvidiactl')) return true;
  try {
    return readdirSync('/dev/dri').some((f) => f.startsWith('renderD'));
  } catch {
    return false;
  }
}

/** The process's WebGPU instance with a working adapter (cached). */
export function findNodeGpu(): Promise<NodeGpu> {
  found ??= find();
  found.catch(() => (found = null));
  return found;
}

/** A GpuEngine in Node: finds the adapter, loads shaders/*.wgsl. */
export async function createNodeGpuEngine(opts: Partial<GpuEngineOptions> = {}): Promise<GpuEngine> {
  const { gpu, note } = await findNodeGpu();
  // Tuning of the fused epochs' nap protocol on NVIDIA (engine.ts GpuEngineOptions), for measurements:
  // SPC_GPU_NAP_FACTOR, SPC_GPU_SLICE_MS, SPC_GPU_SLICES_IN_FLIGHT (1 or 2).
  const napFactor = opts.napFactor ?? envNumber('SPC_GPU_NAP_FACTOR');
  const sliceMs = opts.sliceMs ?? envNumber('SPC_GPU_SLICE_MS');
  const inFlight = envNumber('SPC_GPU_SLICES_IN_FLIGHT');
  const slicesInFlight = opts.slicesInFlight ?? (inFlight === 1 || inFlight === 2 ? inFlight : undefined);
  const shaders = opts.shaders ?? loadNodeShaders();
  return GpuEngine.create(gpu, { ...opts, napFactor, sliceMs, slicesInFlight, shaders, adapterNote: opts.adapterNote ?? note });
}

/** A positive number from the environment, or undefined. */
function envNumber(name: string): number | undefined {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : undefined;
}
