// What the headless pages read from their URL: the backends to try (the served model comes from web/app/shared/served-model.ts).

/** Backends from `?backend=wasm` or `?backend=webgpu,wasm` (default WebGPU, then wasm). */
export function backendsFromQuery(params: URLSearchParams): ('webgpu' | 'wasm')[] {
  const raw = params.get('backend');
  if (raw === null || raw === '') return ['webgpu', 'wasm'];
  return raw.split(',').filter((b): b is 'webgpu' | 'wasm' => b === 'webgpu' || b === 'wasm');
}
