// Validators of route requests and answers: grants, queue tickets, refusals, release and renewal.
import type { RouteGranted, RouteVerify, RouteReleased, RouteReleaseRequest, RouteRenewed, RouteRenewRequest, RouteRequest, RouteResponse } from './messages.ts';
import { type Parsed, apiBounds, positiveTokens, maxIdLength, FieldError, type Obj, describe, object, str, checkId, num, nonNegative, positiveCount, list, optional, span, breakdown, chain, measured, errorBody, run, checkNum, maxPublicKeyLength } from './validate-fields.ts';
import { maxLeaseTokenLength } from './identity.ts';
import { runAnswer, rethrowServerError } from './validate-answer.ts';

/** Longest lease secret accepted, characters (the coordinator's are 43). */
const maxLeaseSecretLength = 256;

/** Most entries a route request's `rttMs` may hold (a client reports the volunteers it measured, web/client keeps 64). */
export const maxRttEntries = 256;
/** Validates a client's route request (`rttMs` bounded in entries, values clamped to apiBounds.maxRttMs). */
export function parseRouteRequest(raw: unknown): Parsed<RouteRequest> {
  return run((): RouteRequest => {
    const o = object(raw, '');
    const r: RouteRequest = {
      clientId: str(o, 'clientId', ''),
      promptTokens: num(o, 'promptTokens', '', positiveTokens),
      maxNewTokens: num(o, 'maxNewTokens', '', positiveTokens),
    };
    if (o.rttMs !== undefined) {
      const m = object(o.rttMs, 'rttMs');
      const keys = Object.keys(m);
      if (keys.length > maxRttEntries) throw new FieldError('rttMs', `rttMs has more than ${maxRttEntries} entries`);
      const rtt: Record<string, number> = {};
      for (const k of keys) {
        if (k.length > maxIdLength) throw new FieldError('rttMs', `rttMs has a peer id longer than ${maxIdLength} characters`);
        // Clamped, not refused: a client on a very slow link still gets a route, and no sum overflows.
        rtt[k] = Math.min(num(m, k, 'rttMs', nonNegative), apiBounds.maxRttMs);
      }
      r.rttMs = rtt;
    }
    const exclude = optional(o, 'excludePeers', () => list(o, 'excludePeers', '', checkId));
    if (exclude !== undefined) r.excludePeers = exclude;
    const s = optional(o, 'span', () => span(o.span, 'span'));
    if (s !== undefined) r.span = s;
    const modelId = optional(o, 'modelId', () => str(o, 'modelId', ''));
    if (modelId !== undefined) r.modelId = modelId;
    const noQueue = optional(o, 'noQueue', () => {
      if (typeof o.noQueue !== 'boolean') throw new FieldError('noQueue', `noQueue must be a boolean (got ${describe(o.noQueue)})`);
      return o.noQueue;
    });
    if (noQueue === true) r.noQueue = true;
    return r;
  });
}


function routeVerify(v: unknown, hops: number): RouteVerify {
  const o = object(v, 'verify');
  const shares = list(o, 'shares', 'verify', (x, p) => checkNum(x, p, { min: 0, max: 1 }));
  const publicKeys = list(o, 'publicKeys', 'verify', (x, p) => {
    if (typeof x !== 'string' || x.length > maxPublicKeyLength) throw new FieldError(p, `${p} must be a public key of at most ${maxPublicKeyLength} characters`);
    return x;
  });
  if (shares.length !== hops || publicKeys.length !== hops) throw new FieldError('verify', `verify must give a share and a key for each of the ${hops} hops`);
  return { shares, publicKeys };
}

function routeGranted(o: Obj): RouteGranted {
  const g: RouteGranted = {
    kind: 'route',
    leaseId: str(o, 'leaseId', ''),
    leaseSecret: str(o, 'leaseSecret', '', maxLeaseSecretLength),
    leaseToken: str(o, 'leaseToken', '', maxLeaseTokenLength),
    leaseTag: str(o, 'leaseTag', ''),
    chain: chain(o, 'chain', ''),
    expiresAtMs: num(o, 'expiresAtMs', '', nonNegative),
    leaseMs: num(o, 'leaseMs', '', { min: 0, minInclusive: false }),
    predicted: breakdown(o.predicted, 'predicted'),
    policy: str(o, 'policy', ''),
    modelId: str(o, 'modelId', ''),
  };
  const verify = optional(o, 'verify', () => routeVerify(o.verify, g.chain.length));
  if (verify !== undefined) g.verify = verify;
  return g;
}

/** Validates the coordinator's answer to a route request or ticket poll (used by the client session). */
export function parseRouteResponse(raw: unknown): Parsed<RouteResponse> {
  return run((): RouteResponse => {
    const o = object(raw, '');
    const kind = o.kind;
    switch (kind) {
      case 'route':
        return routeGranted(o);
      case 'queued':
        return {
          kind,
          ticketId: str(o, 'ticketId', ''),
          position: num(o, 'position', '', positiveCount),
          queueLength: num(o, 'queueLength', '', positiveCount),
        };
      case 'error':
        return { kind, error: errorBody(o.error, 'error') };
      default:
        throw new FieldError('kind', `kind must be one of route, queued, error (got ${describe(kind)})`);
    }
  });
}

/** Validates a release body. */
export function parseRouteReleaseRequest(raw: unknown): Parsed<RouteReleaseRequest> {
  return run((): RouteReleaseRequest => {
    const o = object(raw, '');
    const leaseSecret = str(o, 'leaseSecret', '', maxLeaseSecretLength);
    const m = optional(o, 'measured', () => measured(o.measured, 'measured'));
    return m === undefined ? { leaseSecret } : { leaseSecret, measured: m };
  });
}

/** Validates a renewal body. */
export function parseRouteRenewRequest(raw: unknown): Parsed<RouteRenewRequest> {
  return run((): RouteRenewRequest => {
    const o = object(raw, '');
    return { leaseSecret: str(o, 'leaseSecret', '', maxLeaseSecretLength) };
  });
}

/** Validates the answer to a release; an error body becomes `ok: false` with the server's code. */
export function parseRouteReleased(raw: unknown): Parsed<RouteReleased> {
  return runAnswer((): RouteReleased => {
    const o = object(raw, '');
    rethrowServerError(o);
    if (o.kind !== 'released') throw new FieldError('kind', `kind must be released (got ${describe(o.kind)})`);
    return { kind: 'released', leaseId: str(o, 'leaseId', '') };
  });
}

/** Validates the answer to a renewal; an error body becomes `ok: false` with the server's code. */
export function parseRouteRenewed(raw: unknown): Parsed<RouteRenewed> {
  return runAnswer((): RouteRenewed => {
    const o = object(raw, '');
    rethrowServerError(o);
    if (o.kind !== 'renewed') throw new FieldError('kind', `kind must be renewed (got ${describe(o.kind)})`);
    return { kind: 'renewed', leaseId: str(o, 'leaseId', ''), expiresAtMs: num(o, 'expiresAtMs', '', nonNegative) };
  });
}
