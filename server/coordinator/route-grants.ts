// A route request's checks against the served model, and a granted route's answer: its signed lease and its secret.
import { CoordinatorApiError, type RouteGranted, type RouteRecord, type RouteRequest, type RouteVerify, type SwarmState } from '../../core/api/index.ts';
import type { CoordinatorKey } from '../identity/index.ts';
import type { Grant } from './leases.ts';

/** Throws CoordinatorApiError (model-mismatch, bad-request with its field) for a request this model cannot serve. */
export function checkRouteRequest(request: RouteRequest, model: SwarmState['model']): void {
  if (request.modelId !== undefined && request.modelId !== model.id) {
    throw new CoordinatorApiError('model-mismatch', `this coordinator serves model '${model.id}', not '${request.modelId}'`, 'modelId');
  }
  if (request.span !== undefined && request.span.end > model.numBlocks) {
    throw new CoordinatorApiError('bad-request', `span.end must be ≤ ${model.numBlocks} (the model's blocks)`, 'span.end');
  }
  if (request.promptTokens + request.maxNewTokens > model.maxSessionTokens) {
    throw new CoordinatorApiError(
      'bad-request',
      `promptTokens + maxNewTokens must be ≤ ${model.maxSessionTokens}, the session length volunteers size their cache for`,
      'maxNewTokens',
    );
  }
}

/**
 * The answer for a granted lease: the chain, the lease signed for its volunteers (expected end from
 * the prediction, else a whole lease, ms), the secret only its client learns, and the check plan.
 */
export function grantAnswer(
  ctx: { key: CoordinatorKey; leaseMs: number; modelId: string; verify: RouteVerify },
  request: RouteRequest,
  d: Grant,
  lease: { leaseId: string; record: RouteRecord; expiresAtMs: number },
): RouteGranted {
  const { leaseId, record, expiresAtMs } = lease;
  const expectedEndAtMs = record.grantedAtMs + (Number.isFinite(d.predicted.totalMs) ? Math.max(0, d.predicted.totalMs) : ctx.leaseMs);
  const leaseToken = ctx.key.signLease({
    leaseId, clientId: request.clientId, chain: d.hops, promptTokens: request.promptTokens, maxNewTokens: request.maxNewTokens,
    grantedAtMs: record.grantedAtMs, expectedEndAtMs, expiresAtMs,
  });
  return {
    kind: 'route',
    leaseId,
    leaseSecret: ctx.key.leaseSecret(leaseId),
    leaseToken,
    leaseTag: record.leaseTag,
    chain: d.hops,
    expiresAtMs,
    leaseMs: ctx.leaseMs,
    predicted: d.predicted,
    policy: record.policy,
    modelId: ctx.modelId,
    verify: ctx.verify,
  };
}
