// WGSL sources for the GPU engine in the browser build: Vite inlines shaders/*.wgsl as strings.
const files = import.meta.glob('../../../shaders/*.wgsl', { query: '?raw', import: 'default', eager: true }) as Record<string, string>;

export function loadViteShaders(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [p, src] of Object.entries(files)) out[p.slice(p.lastIndexOf('/') + 1).replace(/\.wgsl$/, '')] = src;
  return out;
}
