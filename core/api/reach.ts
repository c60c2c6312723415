// Reaching peers across networks: the ICE servers the coordinator hands pages, and the failures clients report back.
import type { BlockSpan } from '../swarm/index.ts';
import { errorCodes, type ErrorCode } from '../errors/index.ts';
import { FieldError, describe, join, list, num, object, oneOf, optional, run, span, str, strItem, nonNegative, type Obj, type Parsed } from './validate-fields.ts';

/** One ICE server as RTCPeerConnection takes it: STUN or TURN URLs; TURN ones carry short-lived credentials. */
export interface IceServer {
  urls: string[];
  /** TURN only: `<expiry unix s>:<client id>` (coturn's use-auth-secret scheme). */
  username?: string;
  /** TURN only: base64(HMAC-SHA1(shared secret, username)); useless after the expiry in the username. */
  credential?: string;
}

/** GET `apiPaths.iceServers` answer: the servers to use, and when the TURN credentials among them lapse. */
export interface IceServersAnswer {
  kind: 'ice-servers';
  iceServers: IceServer[];
  /** Unix epoch ms after which the TURN credentials stop working (ask again before); null without TURN. */
  expiresAtMs: number | null;
}

/** Most ICE servers (and URLs per server) an answer may carry. */
export const maxIceServers = 8;
/** Longest ICE URL, characters. */
export const maxIceUrlLength = 512;

const iceUrlPattern = /^(stun|stuns|turn|turns):[^\s]+$/;

/** True for a `stun:`, `stuns:`, `turn:` or `turns:` URL without spaces, up to {@link maxIceUrlLength} characters. */
export function isIceUrl(url: string): boolean {
  return url.length <= maxIceUrlLength && iceUrlPattern.test(url);
}

/** True for a TURN URL (needs credentials). */
export function isTurnUrl(url: string): boolean {
  return /^turns?:/.test(url);
}

function iceServer(v: unknown, path: string): IceServer {
  const o = object(v, path);
  const urls = list(o, 'urls', path, (u, p) => {
    const s = strItem(u, p, maxIceUrlLength);
    if (!isIceUrl(s)) throw new FieldError(p, `${p} must be a stun:/turn: URL (got ${describe(u)})`);
    return s;
  });
  if (urls.length === 0 || urls.length > maxIceServers) throw new FieldError(join(path, 'urls'), `${join(path, 'urls')} must hold 1 to ${maxIceServers} URLs`);
  const username = optional(o, 'username', () => str(o, 'username', path, 512));
  const credential = optional(o, 'credential', () => str(o, 'credential', path, 512));
  return { urls, ...(username !== undefined ? { username } : {}), ...(credential !== undefined ? { credential } : {}) };
}

/** Validates the coordinator's ICE servers answer. */
export function parseIceServersAnswer(raw: unknown): Parsed<IceServersAnswer> {
  return run((): IceServersAnswer => {
    const o = object(raw, '');
    if (o.kind !== 'ice-servers') throw new FieldError('kind', `kind must be ice-servers (got ${describe(o.kind)})`);
    const iceServers = list(o, 'iceServers', '', iceServer);
    if (iceServers.length > maxIceServers) throw new FieldError('iceServers', `iceServers holds at most ${maxIceServers} servers`);
    const expiresAtMs = o.expiresAtMs === null ? null : num(o, 'expiresAtMs', '', nonNegative);
    return { kind: 'ice-servers', iceServers, expiresAtMs };
  });
}

/** Where a client's request failed. */
export type FailureStage = 'coverage' | 'route' | 'connect' | 'generate';

/** Stages in the order a request goes through them. */
export const failureStages: readonly FailureStage[] = ['coverage', 'route', 'connect', 'generate'];

/** Longest failure message a client may report, characters. */
export const maxFailureMessageLength = 500;

/** POST `apiPaths.failures`: a client says why one of its requests failed (the server logs it, the dashboard lists it). */
export interface FailureReport {
  clientId: string;
  stage: FailureStage;
  /** The error's code (core/errors). */
  code: ErrorCode;
  /** What the person saw, plain language, ≤ {@link maxFailureMessageLength} characters. */
  message: string;
  /** Blocks the failure is about (the uncovered or unreachable span), when known. */
  span?: BlockSpan;
  /** The peer that could not be reached, when one. */
  peerId?: string;
  /** A short tag of the cause beyond the code (e.g. the transport's ICE problem 'turn-refused'), ≤ 40 characters. */
  reason?: string;
}

/** A failure as the coordinator keeps and shows it. */
export interface FailureRecord extends FailureReport {
  /** When the coordinator received the report, Unix epoch ms. */
  atMs: number;
}

function failureFields(o: Obj, path: string): FailureReport {
  const s = optional(o, 'span', () => span(o.span, join(path, 'span')));
  const peerId = optional(o, 'peerId', () => str(o, 'peerId', path));
  const reason = optional(o, 'reason', () => str(o, 'reason', path, 40));
  return {
    clientId: str(o, 'clientId', path),
    stage: oneOf<FailureStage>(o, 'stage', path, failureStages),
    code: oneOf<ErrorCode>(o, 'code', path, errorCodes),
    message: str(o, 'message', path, maxFailureMessageLength),
    ...(s !== undefined ? { span: s } : {}),
    ...(peerId !== undefined ? { peerId } : {}),
    ...(reason !== undefined ? { reason } : {}),
  };
}

/** Validates a client's failure report. */
export function parseFailureReport(raw: unknown): Parsed<FailureReport> {
  return run(() => failureFields(object(raw, ''), ''));
}

/** Reads one failure record (in the swarm state). */
export function failureRecord(v: unknown, path: string): FailureRecord {
  const o = object(v, path);
  return { ...failureFields(o, path), atMs: num(o, 'atMs', path, nonNegative) };
}

/** GET `apiPaths.failures` answer: the failures the coordinator keeps, newest first. */
export interface FailuresAnswer {
  kind: 'failures';
  failures: FailureRecord[];
}

/** Validates the failure list. */
export function parseFailuresAnswer(raw: unknown): Parsed<FailuresAnswer> {
  return run((): FailuresAnswer => {
    const o = object(raw, '');
    if (o.kind !== 'failures') throw new FieldError('kind', `kind must be failures (got ${describe(o.kind)})`);
    return { kind: 'failures', failures: list(o, 'failures', '', failureRecord) };
  });
}
