// VolunteerRuntime over worker/'s in-thread BlockRuntime (Node volunteers for tests, benchmarks and the demo's helpers).
import { cacheBytesPerBlock } from '../../core/model/index.ts';
import type { BlockSpan } from '../../core/swarm/index.ts';
import { createInThreadRuntime, probeSpeed, type BackendName, type BlockRuntime, type Ort, type ModelWeights } from '../../worker/index.ts';
import type { LoadPhase, SpeedMeasurement, VolunteerRuntime } from './agent.ts';
import { executorFromRuntime } from './runtime-port.ts';
import type { BlockExecutor } from './session-host.ts';

/** Options of the in-thread volunteer runtime. */
export interface InThreadVolunteerOptions {
  backends?: BackendName[];
  threads?: number;
  /** Skip the probe and report these figures (tests that need no timing). */
  fixedSpeed?: SpeedMeasurement;
}

/** A VolunteerRuntime that builds an in-thread BlockRuntime over already opened weights. */
export function inThreadVolunteerRuntime(ort: Ort, weights: ModelWeights, options: InThreadVolunteerOptions = {}): VolunteerRuntime {
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
    async load(span: BlockSpan, cacheSlots: number, maxSessionTokens: number, onPhase: (p: LoadPhase, f?: number) => void): Promise<BlockExecutor> {
      if (rt !== null) await rt.dispose();
      onPhase('loading');
      const tokens = Math.min(maxSessionTokens, weights.shape.maxSeqLen);
      rt = await createInThreadRuntime(ort, weights, {
        blocks: span, backends, maxSessionTokens: tokens,
        ...(options.threads !== undefined ? { threads: options.threads } : {}),
        // The host counts slots; give the runtime room for the same number (at least one).
        cacheBudgetBytes: Math.max(1, cacheSlots) * cacheBytesPerBlock(weights.shape, tokens),
      });
      return executorFromRuntime(rt, weights.shape.hiddenSize);
    },
    async unload(): Promise<void> {
      const r = rt;
      rt = null;
      if (r !== null) await r.dispose();
    },
  };
}
