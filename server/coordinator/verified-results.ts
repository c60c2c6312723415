// Verified results in the coordinator: the check share and key of each hop a route grants, the evidence court, and the bans it hands down.
import type { RouteHop, RouteVerify, VerifyEvidence, VerifyVerdict } from '../../core/api/index.ts';
import { defaultVerifyShare, probationVerifyShare } from '../../core/verify/index.ts';
import { inProcessRecomputer } from './recompute.ts';
import type { VolunteerRegistry } from './registry.ts';
import { BanList, judgeEvidence, type StepRecomputer } from './verdicts.ts';
import type { VerifyOptions } from './options.ts';

/** What the coordinator does with a confirmed wrong result. */
export interface BanHandler {
  /** Removes the volunteer (no routes, its socket closed, its record marked). */
  onBanned(peerId: string, message: string): void;
}

/**
 * The coordinator's part in verified results. Route answers tell the client, per hop, the share of
 * decode steps to check (`probationShare` for a volunteer without a record yet: new keys are free,
 * so they are checked more often) and the hop's public key. Evidence is judged by recomputing the
 * step in this process; keys it convicts are banned (for good with a state dir: BanList's store).
 */
export class VerifiedResults {
  readonly bans: BanList;
  private readonly share: number;
  private readonly probationShare: number;
  private readonly recompute: StepRecomputer | undefined;

  constructor(
    private readonly registry: VolunteerRegistry,
    private readonly hiddenSize: number,
    modelFolder: string | undefined,
    private readonly options: VerifyOptions,
    private readonly handler: BanHandler,
    private readonly now: () => number,
    bans?: BanList,
  ) {
    this.bans = bans ?? new BanList();
    this.share = options.share ?? defaultVerifyShare;
    this.probationShare = Math.max(this.share, options.probationShare ?? probationVerifyShare);
    this.recompute = options.recompute ?? (modelFolder !== undefined ? inProcessRecomputer(modelFolder) : undefined);
  }

  /** The `verify` field of a route answer for `chain`. */
  routeVerify(chain: readonly RouteHop[]): RouteVerify {
    return {
      shares: chain.map((h) => (this.registry.records.isVerified(h.peerId) ? this.share : this.probationShare)),
      publicKeys: chain.map((h) => this.registry.get(h.peerId)?.publicKey ?? ''),
    };
  }

  /** Whether `peerId`'s key is banned (its registration is refused). */
  isBanned(peerId: string): boolean {
    return this.bans.has(peerId);
  }

  /** Judges a client's evidence; bans the keys whose signed outputs the recomputation shows wrong. */
  async judge(evidence: VerifyEvidence): Promise<VerifyVerdict> {
    const verdict = await judgeEvidence(evidence, {
      hiddenSize: this.hiddenSize,
      registeredKey: (peerId) => this.registry.get(peerId)?.publicKey,
      ...(this.recompute !== undefined ? { recompute: this.recompute } : {}),
      ...(this.options.tolerance !== undefined ? { tolerance: this.options.tolerance } : {}),
    });
    for (const peerId of verdict.bannedPeerIds) {
      this.bans.ban(peerId, this.now(), verdict.message);
      this.registry.records.noteBanned(peerId);
      this.handler.onBanned(peerId, verdict.message);
    }
    return verdict;
  }
}
