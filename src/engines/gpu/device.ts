// WebGPU device acquisition and failure reporting for the GPU engine. Pure (browser, Web Worker and
// Node alike): it takes a `GPU` object (navigator.gpu, or the `webgpu` package's in Node) and maps
// every way of failing to a `GpuUnavailableError` whose message is ONE sentence a person can act on:
// no WebGPU, no adapter, a limit too small for the model (which limit, the value needed, the
// adapter's value and what would fit), out of memory, a validation error, the device lost.

export type GpuFailure = 'no-webgpu' | 'no-adapter' | 'limit' | 'out-of-memory' | 'validation' | 'device-lost';

export class GpuUnavailableError extends Error {
  readonly reason: GpuFailure;
  constructor(reason: GpuFailure, message: string) {
    super(message);
    this.name = 'GpuUnavailableError';
    this.reason = reason;
  }
}

export function isGpuError(e: unknown): e is GpuUnavailableError {
  return e instanceof GpuUnavailableError;
}

/** The limits the engine cares about (names as in GPUSupportedLimits). */
export const ENGINE_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
] as const;
export type EngineLimit = (typeof ENGINE_LIMITS)[number];
export type EngineLimits = Record<EngineLimit, number>;

export interface GpuDeviceOptions {
  /** Limits the device must have (checked against the adapter before asking for the device). */
  requireLimits?: Partial<EngineLimits>;
  /** Ask for at most these values (tests use it to get the WebGPU defaults, e.g. 16 KiB workgroup
   *  storage); without it the device gets the adapter's own (larger) limits. */
  capLimits?: Partial<EngineLimits>;
  /** Ask for `timestamp-query` when the adapter has it. */
  timestamps?: boolean;
  /** Appended to the adapter's name, e.g. "Chromium's SwiftShader, no other adapter found". */
  adapterNote?: string;
  powerPreference?: GPUPowerPreference;
}

export interface GpuContext {
  adapter: GPUAdapter;
  device: GPUDevice;
  /** "SwiftShader driver 5.0.0 (google swiftshader)" and the note, if any. */
  adapterName: string;
  /** The limits the engine plans with: the device's, lowered to `capLimits`. */
  limits: EngineLimits;
  timestamps: boolean;
}

/** A readable adapter name from GPUAdapterInfo (fields vary by platform; some may be empty). */
export function describeAdapter(info: GPUAdapterInfo | undefined, note?: string): string {
  const parts: string[] = [];
  if (info) {
    const main = info.description || info.device || info.vendor || 'unknown adapter';
    parts.push(main);
    const extra = [info.vendor, info.architecture].filter((s) => s && !main.includes(s));
    if (extra.length) parts.push(`(${extra.join(' ')})`);
  } else parts.push('unknown adapter');
  let s = `WebGPU: ${parts.join(' ')}`;
  if (note) s += ` (${note})`;
  return s;
}

function fmtBytes(n: number): string {
  if (n >= 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(n % (1024 * 1024) === 0 ? 0 : 1)} MiB (${n.toLocaleString('en-US')} bytes)`;
  return `${n.toLocaleString('en-US')} bytes`;
}

/** The one sentence for a limit that stops a model. */
export function limitMessage(limit: EngineLimit, needed: number, have: number, what: string, fits: string): string {
  const bytes = limit === 'maxStorageBufferBindingSize' || limit === 'maxBufferSize' || limit === 'maxComputeWorkgroupStorageSize';
  const f = bytes ? fmtBytes : (n: number) => n.toLocaleString('en-US');
  return `The WebGPU adapter's ${limit} is ${f(have)} but ${what} needs ${f(needed)}; ${fits}.`;
}

/**
 * Requests an adapter and a device with the limits the engine needs. Throws GpuUnavailableError.
 * `gpu` is navigator.gpu in a browser (pass `navigator.gpu`, possibly undefined) or the Node GPU.
 */
export async function requestGpuDevice(gpu: GPU | null | undefined, opts: GpuDeviceOptions = {}): Promise<GpuContext> {
  if (!gpu) {
    throw new GpuUnavailableError(
      'no-webgpu',
      'WebGPU is not available here (no navigator.gpu): use a browser with WebGPU enabled (Chrome 113+), or the CPU engine.',
    );
  }
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter(opts.powerPreference ? { powerPreference: opts.powerPreference } : undefined);
  } catch (e) {
    throw new GpuUnavailableError('no-adapter', `WebGPU found no usable GPU adapter (requestAdapter failed: ${(e as Error).message}); use the CPU engine.`);
  }
  if (!adapter) {
    throw new GpuUnavailableError('no-adapter', 'WebGPU is present but found no GPU adapter (no driver, or the GPU is blocklisted): use the CPU engine.');
  }
  const requiredLimits: Record<string, number> = {};
  for (const name of ENGINE_LIMITS) {
    const have = adapter.limits[name];
    const need = opts.requireLimits?.[name];
    if (need !== undefined && need > have) {
      throw new GpuUnavailableError('limit', limitMessage(name, need, have, 'the engine', 'use a smaller model or the CPU engine'));
    }
    const cap = opts.capLimits?.[name];
    requiredLimits[name] = cap !== undefined ? Math.max(need ?? 0, Math.min(cap, have)) : have;
  }
  const timestamps = !!opts.timestamps && adapter.features.has('timestamp-query');
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({
      label: 'pc/device',
      requiredLimits,
      requiredFeatures: timestamps ? ['timestamp-query'] : [],
    });
  } catch (e) {
    throw new GpuUnavailableError('no-adapter', `The WebGPU adapter refused to create a device (${(e as Error).message.split('\n')[0]}); use the CPU engine.`);
  }
  const limits = {} as EngineLimits;
  // Effective limits: what the device granted, lowered to the caps (so tests can act out a small
  // adapter, e.g. the 16 KiB workgroup-storage minimum, on a large one).
  for (const name of ENGINE_LIMITS) limits[name] = Math.min(device.limits[name], opts.capLimits?.[name] ?? Infinity);
  return { adapter, device, adapterName: describeAdapter(adapter.info, opts.adapterNote), limits, timestamps };
}

/** The device-lost sentence. */
export function lostMessage(info: GPUDeviceLostInfo | { reason: string; message: string }): string {
  const why = info.message ? `: ${info.message.split('\n')[0].replace(/\.$/, '')}` : '';
  return info.reason === 'destroyed'
    ? `The WebGPU device was destroyed${why}; training continues on the CPU only if the CPU fallback is on.`
    : `The WebGPU device was lost (driver reset or GPU removed${why}); reload, or continue on the CPU engine.`;
}

/**
 * Runs `fn` (buffer or pipeline creation) inside out-of-memory and validation error scopes, and
 * turns a captured error (or a thrown RangeError from a failed allocation) into one sentence.
 */
export async function withErrorScopes<T>(device: GPUDevice, what: string, fn: () => T): Promise<T> {
  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('validation');
  let value: T | undefined;
  let thrown: unknown = null;
  try {
    value = fn();
  } catch (e) {
    thrown = e;
  }
  const validation = await device.popErrorScope();
  const oom = await device.popErrorScope();
  if (oom) {
    throw new GpuUnavailableError('out-of-memory', `The GPU ran out of memory while allocating ${what}: use a smaller K or batch, or the CPU engine.`);
  }
  if (thrown instanceof RangeError) {
    const why = thrown.message.replace(/\.$/, '');
    throw new GpuUnavailableError('out-of-memory', `The GPU could not allocate ${what} (${why}): use a smaller K or batch, or the CPU engine.`);
  }
  if (thrown) throw thrown;
  if (validation) {
    const msg = validation.message.split('\n')[0].trim().replace(/\.$/, '');
    if (/exceeds the max buffer size limit/.test(msg)) {
      throw new GpuUnavailableError('limit', `WebGPU could not allocate ${what} (${msg}): use a smaller K or batch, or the CPU engine.`);
    }
    throw new GpuUnavailableError('validation', `WebGPU rejected ${what} (${msg}): this is an engine bug; use the CPU engine and report it.`);
  }
  return value as T;
}
