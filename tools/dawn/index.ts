// WebGPU in Node through Dawn's `webgpu` package: the installer, the adapter probe and the Node backend rule (Node only).
export { installDawnWebGpu, keepDawnAwake, destroyOrtWebGpuDevice, baselineWasmOnly, decideNodeBackend, type DawnProbe, type DawnAdapter, type NodeBackendChoice, type NodeBackendDecision } from './dawn.ts';
