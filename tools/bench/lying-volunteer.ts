// A volunteer that lies (the verify bench and verified results' tests): on a share of its decode steps it adds the smallest perturbation that flips the greedy token.
import type { BlockRuntime } from '../../worker/index.ts';
import type { RuntimeStarter } from '../../web/volunteer/index.ts';

/** The client half of the model a liar aims its perturbation with (final norm + LM head). */
export interface AimModel {
  head(hidden: Float32Array): Promise<Float32Array>;
}

/** How often and how a volunteer lies. */
export interface LieOptions {
  /** Share of its single-row (decode) steps it perturbs. */
  share: number;
  /** Uniform in [0, 1): which steps. */
  random: () => number;
  aim: AimModel;
  /** Told of each lie: the perturbation's largest element, absolute and relative to the row's largest magnitude. */
  onLie?: (lie: { maxAbs: number; maxRel: number }) => void;
}

function argmax(v: Float32Array): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if ((v[i] ?? -Infinity) > (v[best] ?? -Infinity)) best = i;
  return best;
}

function secondBest(v: Float32Array, first: number): number {
  let best = first === 0 ? 1 : 0;
  for (let i = 0; i < v.length; i++) if (i !== first && (v[i] ?? -Infinity) > (v[best] ?? -Infinity)) best = i;
  return best;
}

/**
 * The smallest perturbation (in its largest element) that makes the head pick another token, found
 * along the L∞-steepest direction: u = sign(∇(logit_runner-up − logit_greedy)), the gradient by central
 * differences over the d inputs; then α by doubling and 24 bisection steps, so within 2^-24 of the
 * flip point along u. For a head that is linear near the row this is the smallest flip in max-norm.
 */
export async function smallestFlip(hidden: Float32Array, aim: AimModel): Promise<Float32Array> {
  const logits = await aim.head(hidden);
  const first = argmax(logits);
  const second = secondBest(logits, first);
  const d = hidden.length;
  let scale = 0;
  for (const x of hidden) scale = Math.max(scale, Math.abs(x));
  const eps = 1e-3 * Math.max(scale, 1e-3);
  const margin = async (h: Float32Array): Promise<number> => {
    const l = await aim.head(h);
    return (l[second] ?? 0) - (l[first] ?? 0);
  };
  const u = new Float32Array(d);
  for (let i = 0; i < d; i++) {
    const up = hidden.slice();
    const down = hidden.slice();
    up[i] = (up[i] ?? 0) + eps;
    down[i] = (down[i] ?? 0) - eps;
    u[i] = Math.sign((await margin(up)) - (await margin(down)));
  }
  const at = (alpha: number): Float32Array => hidden.map((x, i) => x + alpha * (u[i] ?? 0));
  const flips = async (alpha: number): Promise<boolean> => argmax(await aim.head(at(alpha))) !== first;
  let hi = 1e-6 * Math.max(scale, 1e-3);
  for (let k = 0; k < 60 && !(await flips(hi)); k++) hi *= 2;
  let lo = 0;
  for (let k = 0; k < 24; k++) {
    const mid = (lo + hi) / 2;
    if (await flips(mid)) hi = mid;
    else lo = mid;
  }
  return at(hi);
}

/** `rt` with its single-row steps perturbed on a share of them (a Proxy: every other method is the runtime's own). */
export function lyingRuntime(rt: BlockRuntime, options: LieOptions): BlockRuntime {
  const step: BlockRuntime['step'] = async (sessionId, hidden) => {
    const out = await rt.step(sessionId, hidden);
    if (out.tokens !== 1 || !(options.random() < options.share)) return out;
    const lie = await smallestFlip(out.hidden, options.aim);
    let maxAbs = 0;
    let scale = 0;
    for (let i = 0; i < lie.length; i++) {
      maxAbs = Math.max(maxAbs, Math.abs((lie[i] ?? 0) - (out.hidden[i] ?? 0)));
      scale = Math.max(scale, Math.abs(out.hidden[i] ?? 0));
    }
    options.onLie?.({ maxAbs, maxRel: maxAbs / scale });
    return { ...out, hidden: lie };
  };
  return new Proxy(rt, {
    get(target, prop, receiver) {
      if (prop === 'step') return step;
      const v: unknown = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

/** A volunteer's runtime starter whose runtimes lie (for `startNodeVolunteer`'s `wrapRuntime`). */
export function lyingStarter(options: LieOptions): (plain: RuntimeStarter) => RuntimeStarter {
  return (plain) => ({
    measureSpeed: () => plain.measureSpeed(),
    load: async (span, slots, tokens, onPhase) => lyingRuntime(await plain.load(span, slots, tokens, onPhase), options),
    unload: () => plain.unload(),
  });
}
