// WGSL sources for the GPU engine in Node (tsx, vitest, the CLI): reads shaders/*.wgsl from the
// repository, found relative to this module (or $SPC_SHADER_DIR, or ./shaders, for bundled builds).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

function shaderDir(): string {
  const candidates = [process.env.SPC_SHADER_DIR, fileURLToPath(new URL('../../../shaders/', import.meta.url)), path.resolve(process.cwd(), 'shaders')].filter(
    (d): d is string => !!d,
  );
  for (const d of candidates) if (existsSync(path.join(d, 'product.wgsl'))) return d;
  throw new Error(`GPU engine: shaders/*.wgsl not found (looked in ${candidates.join(', ')}); set SPC_SHADER_DIR`);
}

export function loadNodeShaders(): Record<string, string> {
  const dir = shaderDir();
  const out: Record<string, string> = {};
  for (const f of readdirSync(dir)) if (f.endsWith('.wgsl')) out[f.slice(0, -5)] = readFileSync(path.join(dir, f), 'utf8');
  return out;
}
