// Validators of the volunteer socket's messages, both directions.
import type { AssignmentReason, Backend, CoordinatorToVolunteerMessage, VolunteerMessage } from './messages.ts';
import { type Parsed, apiBounds, serial, peerCount, maxPublicKeyLength, FieldError, type Obj, describe, object, str, num, oneOf, optional, span, spanOrNull, linear, load, errorBody, modelInfo, backends, assignmentReasons, run, typeOf, strItem } from './validate-fields.ts';
import { maxLeaseTokenLength, maxReportedSessions } from './identity.ts';

/** Longest signature (base64url) accepted, characters (a P-256 one is 86). */
const maxSignatureLength = 512;

/** The signed leases a register or heartbeat reports: at most `maxReportedSessions`, each bounded. */
function sessionTokens(o: Obj): string[] | undefined {
  return optional(o, 'sessions', () => {
    const v = o.sessions;
    if (!Array.isArray(v)) throw new FieldError('sessions', `sessions must be an array (got ${describe(v)})`);
    if (v.length > maxReportedSessions) throw new FieldError('sessions', `sessions has more than ${maxReportedSessions} entries`);
    return v.map((x: unknown, i) => strItem(x, `sessions.${i}`, maxLeaseTokenLength));
  });
}

/** Validates a message a volunteer sent. */
export function parseVolunteerMessage(raw: unknown): Parsed<VolunteerMessage> {
  return run((): VolunteerMessage => {
    const o = object(raw, '');
    const type = typeOf(o);
    switch (type) {
      case 'register': {
        const loadedSpan = optional(o, 'loadedSpan', () => span(o.loadedSpan, 'loadedSpan'));
        const m: VolunteerMessage = {
          type,
          peerId: str(o, 'peerId', ''),
          publicKey: str(o, 'publicKey', '', maxPublicKeyLength),
          memoryBytes: num(o, 'memoryBytes', '', { min: 0, minInclusive: false, max: apiBounds.maxMemoryBytes }),
          decodeMsPerBlock: num(o, 'decodeMsPerBlock', '', { min: apiBounds.minDecodeMsPerBlock, max: apiBounds.maxStepMs }),
          prefillMsPerBlock: linear(o.prefillMsPerBlock, 'prefillMsPerBlock'),
          backend: oneOf<Backend>(o, 'backend', '', backends),
          modelId: str(o, 'modelId', ''),
          protocolVersion: optional(o, 'protocolVersion', () => num(o, 'protocolVersion', '', serial)) ?? 0,
        };
        if (loadedSpan !== undefined) m.loadedSpan = loadedSpan;
        const signature = optional(o, 'signature', () => str(o, 'signature', '', maxSignatureLength));
        if (signature !== undefined) m.signature = signature;
        const sessions = sessionTokens(o);
        if (sessions !== undefined) m.sessions = sessions;
        return m;
      }
      case 'heartbeat': {
        const sessions = sessionTokens(o);
        return sessions === undefined ? { type, load: load(o.load, 'load') } : { type, load: load(o.load, 'load'), sessions };
      }
      case 'ready':
        return { type, assignmentId: num(o, 'assignmentId', '', serial), span: span(o.span, 'span') };
      case 'leave':
        return { type };
      default:
        throw new FieldError('type', `type must be one of register, heartbeat, ready, leave (got ${describe(type)})`);
    }
  });
}

/** Validates a message the coordinator sent a volunteer (used by the volunteer agent). */
export function parseCoordinatorToVolunteerMessage(raw: unknown): Parsed<CoordinatorToVolunteerMessage> {
  return run((): CoordinatorToVolunteerMessage => {
    const o = object(raw, '');
    const type = typeOf(o);
    switch (type) {
      case 'challenge':
        return { type, nonce: str(o, 'nonce', '') };
      case 'registered':
        return {
          type,
          peerId: str(o, 'peerId', ''),
          coordinatorKey: str(o, 'coordinatorKey', '', maxPublicKeyLength),
          model: modelInfo(o.model, 'model'),
          heartbeatIntervalMs: num(o, 'heartbeatIntervalMs', '', { min: 0, minInclusive: false, max: apiBounds.maxRequestMs }),
          heartbeatTimeoutMs: num(o, 'heartbeatTimeoutMs', '', { min: 0, minInclusive: false, max: apiBounds.maxRequestMs }),
        };
      case 'assignment':
        return {
          type,
          assignmentId: num(o, 'assignmentId', '', serial),
          modelId: str(o, 'modelId', ''),
          span: spanOrNull(o, 'span', ''),
          reason: oneOf<AssignmentReason>(o, 'reason', '', assignmentReasons),
          cacheSlots: num(o, 'cacheSlots', '', peerCount),
        };
      case 'error':
        return { type, error: errorBody(o.error, 'error') };
      default:
        throw new FieldError('type', `type must be one of challenge, registered, assignment, error (got ${describe(type)})`);
    }
  });
}
