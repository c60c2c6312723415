// Sampling of the client side (pure; reused by the live client in web/): public surface of worker/sampling.
export { sampleToken, argmax, seededRng, validateSampling, defaultSampling, samplerFor, type SamplingParams, type Rng } from './sampler.ts';
