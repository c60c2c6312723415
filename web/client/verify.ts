// StepVerifier: re-runs a share of a session's decode steps on a second volunteer holding the same blocks, compares, and asks the coordinator to judge a mismatch.
import { base64url, type VerifyEvidence, type VerifyVerdict } from '../../core/api/index.ts';
import { PeerError, type HiddenStates, type WireDtype } from '../../core/protocol/index.ts';
import {
  compareOutputs, toleranceFor, nextInputsDigest, emptyInputsDigest, shouldCheck, stepSigningText, tensorWireBytes,
  type VerifyTolerance,
} from '../../core/verify/index.ts';
import type { BlockSpan } from '../../core/swarm/index.ts';
import { verifySignature, webSha256 } from '../volunteer/index.ts';
import type { RouteHopSpec, RouteLease, RouteProvider } from './routes.ts';

/** Where evidence of a mismatch goes (the coordinator's `apiPaths.verifyEvidence`; CoordinatorRoutes implements it). */
export interface EvidenceSink {
  submitEvidence(evidence: Omit<VerifyEvidence, 'clientId'>): Promise<VerifyVerdict>;
}

/** One input a hop ran (the session's failover history). */
export interface VerifiedStep {
  hidden: HiddenStates;
  position: number;
}

/** What the verifier needs of a hop of the session (ClientSession's ActiveHop fits). */
export interface CheckedHop {
  peerId: string;
  span: BlockSpan;
  sessionId: string;
  leaseId: string;
  verifyShare: number;
  publicKey?: string;
  nextStepIndex: number;
  history: VerifiedStep[];
  /** Signature of the last answer it gave (step-result `signature`). */
  lastSignature?: string;
}

/** The session's own ways to open a hop and run a step on it: the checker's shadow session uses the same code as failover. */
export interface HopOps<H extends CheckedHop> {
  open(spec: RouteHopSpec, lease: RouteLease): Promise<H>;
  step(hop: H, hidden: HiddenStates, position: number): Promise<HiddenStates>;
  close(hop: H): void;
}

/** What happened at one check, for status lines (the chat page and the dashboard show bans). */
export type VerifyEvent =
  | { kind: 'agreed'; peerId: string; checkerId: string; maxRelDiff: number }
  | { kind: 'mismatch'; peerId: string; checkerId: string; maxRelDiff: number; verdict: VerifyVerdict['outcome'] | 'not-submitted'; bannedPeerIds: string[] };

/** Counts of one generation's checks. */
export interface VerifyReport {
  /** Steps compared with a second volunteer. */
  compared: number;
  /** Of them, outputs that differed beyond the tolerance. */
  mismatches: number;
  /** Keys the coordinator banned on this session's evidence. */
  bannedPeerIds: string[];
  /** Largest relative difference of an agreeing comparison. */
  maxAgreedRelDiff: number;
  /** Shadow sessions opened on checkers (each is a session those volunteers serve). */
  checkerSessions: number;
}

/** Knobs of a StepVerifier. */
export interface StepVerifierOptions {
  routes: RouteProvider;
  evidence?: EvidenceSink;
  tolerance?: VerifyTolerance;
  /** Uniform in [0, 1): which steps are checked (default Math.random). */
  random?: () => number;
  /** Largest replay step to a checker, tokens (the session's prefill chunk). */
  chunkTokens: number;
  /** l_in and l_out of the generation: a checker's lease books the same cache as the hop's. */
  lengths: () => { promptTokens: number; maxNewTokens: number };
  onEvent?: (e: VerifyEvent) => void;
}

/** What a check concluded. */
export type CheckOutcome = 'agree' | 'skipped' | 'checker-wrong';

interface Shadow<H extends CheckedHop> {
  hop: H;
  lease: RouteLease;
  /** Steps of the main hop's history fed to it so far. */
  fed: number;
  /** Rows of each step it ran. */
  stepRows: number[];
}

/**
 * Checks decode steps of a session's hops. A hop's share comes from the route answer (the
 * coordinator checks volunteers on probation more often); the client draws which steps, so a
 * volunteer cannot know. For a checked step it keeps a shadow session on a second volunteer serving
 * the same span (a route for that span without the checked peer), replays there the inputs the hop
 * ran since the last check (from the failover history, batched into chunks), sends the same step and
 * compares within the tolerance. On a mismatch it submits both signed answers and the inputs to the
 * coordinator, which recomputes the step and bans the wrong key; `check` then throws
 * PeerError('wrong-result') when the checked hop was wrong (or the verdict cannot say), so the session
 * fails it over and recomputes the step on the honest chain.
 */
export class StepVerifier<H extends CheckedHop> {
  private readonly shadows = new Map<H, Shadow<H>>();
  /** Hops with no second volunteer for their span: the step after which to try again. */
  private readonly noTwinUntil = new Map<H, number>();
  private readonly excluded = new Set<string>();
  readonly report: VerifyReport = { compared: 0, mismatches: 0, bannedPeerIds: [], maxAgreedRelDiff: 0, checkerSessions: 0 };

  constructor(private readonly ops: HopOps<H>, private readonly options: StepVerifierOptions) {}

  /** Peers this session excluded (failed or banned): never a checker. */
  exclude(peerId: string): void {
    this.excluded.add(peerId);
  }

  /** Whether to check this step of `hop` (drawn now, with the hop's share). */
  wants(hop: H): boolean {
    return shouldCheck(hop.verifyShare, this.options.random ?? Math.random);
  }

  /**
   * Compares `hop`'s answer `output` (signature `signature`) to step `stepIndex` on `input` at
   * `position` with a second volunteer's. Resolves 'agree', 'skipped' (no second volunteer) or
   * 'checker-wrong'; throws PeerError('wrong-result') when `hop` must be failed over.
   */
  async check(hop: H, input: HiddenStates, position: number, output: HiddenStates, signature: string | undefined, dtype: WireDtype): Promise<CheckOutcome> {
    const shadow = await this.shadowFor(hop);
    if (shadow === undefined) return 'skipped';
    let theirs: HiddenStates;
    try {
      await this.catchUp(shadow, hop.history);
      theirs = await this.ops.step(shadow.hop, input, position);
      shadow.stepRows.push(input.rows);
      shadow.fed = hop.history.length + 1;
    } catch {
      // The checker failed (left, refused): no comparison this time, a fresh checker next time.
      this.drop(hop);
      return 'skipped';
    }
    const cmp = compareOutputs(output.data, theirs.data, toleranceFor(dtype, this.options.tolerance));
    this.report.compared++;
    if (cmp.within) {
      this.report.maxAgreedRelDiff = Math.max(this.report.maxAgreedRelDiff, cmp.maxRelDiff);
      this.options.onEvent?.({ kind: 'agreed', peerId: hop.peerId, checkerId: shadow.hop.peerId, maxRelDiff: cmp.maxRelDiff });
      return 'agree';
    }
    this.report.mismatches++;
    const verdict = await this.judge(hop, shadow, input, output, signature, theirs, dtype);
    this.options.onEvent?.({
      kind: 'mismatch', peerId: hop.peerId, checkerId: shadow.hop.peerId, maxRelDiff: cmp.maxRelDiff,
      verdict: verdict?.outcome ?? 'not-submitted', bannedPeerIds: verdict?.bannedPeerIds ?? [],
    });
    for (const id of verdict?.bannedPeerIds ?? []) if (!this.report.bannedPeerIds.includes(id)) this.report.bannedPeerIds.push(id);
    const checkerBanned = verdict?.bannedPeerIds.includes(shadow.hop.peerId) === true;
    const hopBanned = verdict?.bannedPeerIds.includes(hop.peerId) === true;
    if (checkerBanned) this.excluded.add(shadow.hop.peerId);
    this.drop(hop);
    if (hopBanned || (!checkerBanned && verdict?.outcome !== 'no-fault')) {
      // Banned, or no verdict says which of the two is right: recompute on another volunteer.
      throw new PeerError('wrong-result', `${hop.peerId}'s output of step ${hop.nextStepIndex} on blocks [${hop.span.start}, ${hop.span.end}) differs from ${shadow.hop.peerId}'s by ${cmp.maxRelDiff.toExponential(2)} (relative); verdict: ${verdict?.outcome ?? 'not submitted'}`, 0, hop.peerId, { banned: hopBanned });
    }
    return 'checker-wrong';
  }

  /** Closes every shadow session (the generation ended) and releases their routes. */
  finish(): void {
    for (const h of [...this.shadows.keys()]) this.drop(h);
    this.noTwinUntil.clear();
  }

  /** Forgets the shadow of a hop that was failed over or whose checker failed. */
  drop(hop: H): void {
    const s = this.shadows.get(hop);
    if (s === undefined) return;
    this.shadows.delete(hop);
    this.ops.close(s.hop);
    void this.options.routes.releaseRoute(s.lease.leaseId).catch(() => undefined);
  }

  private async shadowFor(hop: H): Promise<Shadow<H> | undefined> {
    const have = this.shadows.get(hop);
    if (have !== undefined) return have;
    if ((this.noTwinUntil.get(hop) ?? -1) > hop.nextStepIndex) return undefined;
    let lease: RouteLease;
    try {
      lease = await this.options.routes.requestRoute({
        span: hop.span, ...this.options.lengths(), excludePeers: [hop.peerId, ...this.excluded],
        // A check is optional: it never waits in the coordinator's queue while this client holds a chain.
        noQueue: true,
      });
    } catch {
      this.noTwinUntil.set(hop, hop.nextStepIndex + 16);
      return undefined;
    }
    const spec = lease.chain[0];
    // One volunteer over exactly the same blocks, or no comparison (a split span cannot be compared step for step).
    if (lease.chain.length !== 1 || spec === undefined || spec.span.start !== hop.span.start || spec.span.end !== hop.span.end) {
      void this.options.routes.releaseRoute(lease.leaseId).catch(() => undefined);
      this.noTwinUntil.set(hop, hop.nextStepIndex + 16);
      return undefined;
    }
    let opened: H;
    try {
      opened = await this.ops.open(spec, lease);
    } catch {
      void this.options.routes.releaseRoute(lease.leaseId).catch(() => undefined);
      this.noTwinUntil.set(hop, hop.nextStepIndex + 16);
      return undefined;
    }
    this.report.checkerSessions++;
    const s: Shadow<H> = { hop: opened, lease, fed: 0, stepRows: [] };
    this.shadows.set(hop, s);
    return s;
  }

  /** Replays to the shadow what the hop ran since the shadow last caught up, consecutive steps batched up to `chunkTokens` rows. */
  private async catchUp(s: Shadow<H>, history: readonly VerifiedStep[]): Promise<void> {
    let i = s.fed;
    while (i < history.length) {
      const first = history[i];
      if (first === undefined) break;
      const parts: HiddenStates[] = [];
      let rows = 0;
      let j = i;
      for (; j < history.length; j++) {
        const h = history[j];
        if (h === undefined || (rows > 0 && rows + h.hidden.rows > this.options.chunkTokens)) break;
        parts.push(h.hidden);
        rows += h.hidden.rows;
      }
      await this.ops.step(s.hop, concatRows(parts), first.position);
      s.stepRows.push(rows);
      i = j;
      s.fed = i;
    }
  }

  private async judge(hop: H, s: Shadow<H>, input: HiddenStates, output: HiddenStates, signature: string | undefined, theirs: HiddenStates, dtype: WireDtype): Promise<VerifyVerdict | undefined> {
    const sink = this.options.evidence;
    const mineOk = await this.signedBy(hop, hop.history.map((h) => h.hidden.rows).concat(input.rows), [...hop.history.map((h) => h.hidden), input], output, signature, dtype);
    const theirsOk = await this.signedBy(s.hop, s.stepRows, [...hop.history.map((h) => h.hidden), input], theirs, s.hop.lastSignature, dtype);
    // An answer without a valid signature is no evidence; without two, there is nothing to submit.
    if (sink === undefined || !mineOk || !theirsOk || hop.publicKey === undefined || s.hop.publicKey === undefined) return undefined;
    const inputs = concatRows([...hop.history.map((h) => h.hidden), input]);
    const evidence: Omit<VerifyEvidence, 'clientId'> = {
      span: hop.span,
      dtype,
      inputs: base64url(tensorWireBytes(inputs.data, dtype)),
      claims: [
        {
          peerId: hop.peerId, publicKey: hop.publicKey, leaseId: hop.leaseId, sessionId: hop.sessionId,
          stepRows: hop.history.map((h) => h.hidden.rows).concat(input.rows), output: base64url(tensorWireBytes(output.data, dtype)), signature: signature ?? '',
        },
        {
          peerId: s.hop.peerId, publicKey: s.hop.publicKey, leaseId: s.hop.leaseId, sessionId: s.hop.sessionId,
          stepRows: [...s.stepRows], output: base64url(tensorWireBytes(theirs.data, dtype)), signature: s.hop.lastSignature ?? '',
        },
      ],
    };
    return sink.submitEvidence(evidence).catch(() => undefined);
  }

  /** Whether `signature` is `hop`'s key's signature of its answer `output` after `steps` (the client checks before it submits). */
  private async signedBy(hop: CheckedHop, stepRows: number[], inputs: HiddenStates[], output: HiddenStates, signature: string | undefined, dtype: WireDtype): Promise<boolean> {
    if (signature === undefined || hop.publicKey === undefined) return false;
    const all = concatRows(inputs);
    let digest = emptyInputsDigest;
    let row = 0;
    for (const n of stepRows) {
      digest = await nextInputsDigest(webSha256, digest, tensorWireBytes(all.data.subarray(row * all.cols, (row + n) * all.cols), dtype));
      row += n;
    }
    const outputDigest = await webSha256(tensorWireBytes(output.data, dtype));
    const text = stepSigningText({ leaseId: hop.leaseId, sessionId: hop.sessionId, stepIndex: stepRows.length - 1, inputsDigest: digest, outputDigest });
    return verifySignature(hop.publicKey, text, signature);
  }
}

/**
 * The verifier of one generation: `routes` give the checkers (and take the evidence when they can,
 * as CoordinatorRoutes does, unless `verify.evidence` says where it goes).
 */
export function sessionVerifier<H extends CheckedHop>(
  ops: HopOps<H>, routes: RouteProvider, chunkTokens: number, lengths: StepVerifierOptions['lengths'],
  verify?: Partial<Pick<StepVerifierOptions, 'evidence' | 'tolerance' | 'random' | 'onEvent'>>,
): StepVerifier<H> {
  const withSink = routes as RouteProvider & Partial<EvidenceSink>;
  const evidence = verify?.evidence ?? (typeof withSink.submitEvidence === 'function' ? (withSink as EvidenceSink) : undefined);
  return new StepVerifier<H>(ops, {
    routes, chunkTokens, lengths,
    ...(evidence !== undefined ? { evidence } : {}),
    ...(verify?.tolerance !== undefined ? { tolerance: verify.tolerance } : {}),
    ...(verify?.random !== undefined ? { random: verify.random } : {}),
    ...(verify?.onEvent !== undefined ? { onEvent: verify.onEvent } : {}),
  });
}

/** Rows of several hidden-state blocks, one after another. */
export function concatRows(parts: readonly HiddenStates[]): HiddenStates {
  const cols = parts[0]?.cols ?? 0;
  const rows = parts.reduce((a, p) => a + p.rows, 0);
  const data = new Float32Array(rows * cols);
  let o = 0;
  for (const p of parts) {
    data.set(p.data.subarray(0, p.rows * cols), o);
    o += p.rows * cols;
  }
  return { rows, cols, data };
}
