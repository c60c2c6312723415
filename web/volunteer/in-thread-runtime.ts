// Starts a volunteer's BlockRuntime in this thread (Node volunteers for tests, benchmarks and the demo's helpers).
import { cacheBudgetBytes } from '../../core/cache/index.ts';
import type { BlockSpan } from '../../core/swarm/index.ts';
import { createInThreadRuntime, probeSpeed, type BackendName, type BlockRuntime, type Ort, type ModelWeights, type OpFlavour } from '../../worker/index.ts';
import type { LoadPhase, RuntimeStarter, SpeedMeasurement } from './agent.ts';

/** Options of the in-thread volunteer runtime. */
export interface InThreadVolunteerOptions {
  backends?: BackendName[];
  threads?: number;
  /** Skip the probe and report these figures (tests that need no timing). */
  fixedSpeed?: SpeedMeasurement;
  /** Graph flavour (default contrib ops). */
  ops?: OpFlavour;
}

/** A RuntimeStarter that builds an in-thread BlockRuntime over already opened weights. */
export function inThreadVolunteerRuntime(ort: Ort, weights: ModelWeights, options: InThreadVolunteerOptions = {}): RuntimeStarter {
  let rt: BlockRuntime | null = null;
  const backends = options.backends ?? ['wasm'];
  return {
    async measureSpeed(): Promise<SpeedMeasurement> {
      if (options.fixedSpeed !== undefined) return options.fixedSpeed;
      const r = await probeSpeed(ort, weights.shape, {
        backends, ...(options.threads !== undefined ? { threads: options.threads } : {}), decodeSteps: 8, repeats: 1, prefillLengths: [8, 32],
      });
      return { decodeMsPerBlock: r.decodeMsPerBlock, prefillMsPerBlock: r.prefillMsPerBlock };
    },
    async load(span: BlockSpan, cacheSlots: number, maxSessionTokens: number, onPhase: (p: LoadPhase, f?: number) => void): Promise<BlockRuntime> {
      if (rt !== null) await rt.dispose();
      onPhase('loading');
      const tokens = Math.min(maxSessionTokens, weights.shape.maxSeqLen);
      rt = await createInThreadRuntime(ort, weights, {
        blocks: span, backends, maxSessionTokens: tokens,
        ...(options.ops !== undefined ? { ops: options.ops } : {}),
        ...(options.threads !== undefined ? { threads: options.threads } : {}),
        // The host counts the same slots in token blocks; the runtime gets room for as many (at least one slot).
        cacheBudgetBytes: cacheBudgetBytes(weights.shape, cacheSlots, tokens),
      });
      return rt;
    },
    async unload(): Promise<void> {
      const r = rt;
      rt = null;
      if (r !== null) await r.dispose();
    },
  };
}
