// The peer frames as types: a discriminated union tied to a request→response map (the codec is frames.ts).
import type { ErrorCode, ErrorData } from '../errors/index.ts';
import type { BlockSpan } from '../swarm/index.ts';

/** Wire precision of hidden states: fp32 (4 bytes per value) or fp16 (2 bytes, IEEE half). */
export type WireDtype = 'fp32' | 'fp16';

/**
 * Hidden states of `rows` tokens (T) × `cols` features (d, the model's hidden size), row-major.
 * In memory always float32; `dtype` says how they travel.
 */
export interface HiddenStates {
  rows: number;
  cols: number;
  data: Float32Array;
}

/** Client → volunteer: open a session over `span` that will hold at most `maxLength` tokens. */
export interface OpenSessionFrame {
  type: 'open-session';
  /** Request id, chosen by the sender; the answer carries the same id. */
  id: number;
  sessionId: string;
  /** Blocks the volunteer runs for this session, 0-based, end exclusive. */
  span: BlockSpan;
  /** Longest sequence (prompt + generated tokens) of the session, tokens. */
  maxLength: number;
  /** Precision of the hidden states of this session's steps. */
  dtype: WireDtype;
  /**
   * The sender's `protocolVersion`. Encoding fills in this peer's when absent; a decoded frame always
   * has it (0 from a peer older than the field). The receiver answers another version `version-mismatch`.
   */
  protocolVersion?: number;
  /**
   * The route's `leaseToken` (core/api identity): the coordinator's signed grant of this span on this
   * peer to this client. A volunteer refuses a session without a valid one ('lease-refused').
   */
  lease?: string;
}
/** Volunteer → client: the session is open and holds its cache slots. */
export interface OpenedFrame {
  type: 'opened';
  id: number;
  sessionId: string;
}
/** Client → volunteer: run the session's blocks on `hidden` (rows = new tokens) at `position`. */
export interface StepFrame {
  type: 'step';
  id: number;
  sessionId: string;
  /** 0-based index of this step within the session; steps must come in order. */
  stepIndex: number;
  /** Tokens already in the session's cache (the position of the first row), tokens. */
  position: number;
  dtype: WireDtype;
  hidden: HiddenStates;
}
/** Volunteer → client: the hidden states after the session's blocks. */
export interface StepResultFrame {
  type: 'step-result';
  id: number;
  sessionId: string;
  stepIndex: number;
  dtype: WireDtype;
  hidden: HiddenStates;
}
/** Client → volunteer: end the session and free its cache. */
export interface CloseFrame {
  type: 'close';
  id: number;
  sessionId: string;
}
/** Volunteer → client: the session is closed. */
export interface ClosedFrame {
  type: 'closed';
  id: number;
  sessionId: string;
}
/** Liveness and round-trip probe. */
export interface PingFrame {
  type: 'ping';
  id: number;
  /** Sender's clock when sent, ms; echoed back. */
  sentAtMs: number;
}
export interface PongFrame {
  type: 'pong';
  id: number;
  sentAtMs: number;
}
/** Answer to a request that failed; `id` is the id of that request (0 when it could not be read). */
export interface ErrorFrame {
  type: 'error';
  id: number;
  /** Any code of the one list; never remapped on the way. */
  code: ErrorCode;
  message: string;
  /** Class the error was thrown as (`RuntimeError`, `PeerError`…), rebuilt by `errorFromFrame`. */
  kind?: string;
  /** The error's plain data (flat, bounded). */
  data?: ErrorData;
}

/** Every frame of the peer protocol. */
export type Frame =
  | OpenSessionFrame | OpenedFrame | StepFrame | StepResultFrame | CloseFrame | ClosedFrame
  | PingFrame | PongFrame | ErrorFrame;
export type FrameType = Frame['type'];

/** Requests and the frame that answers each (or an error frame). */
export interface ResponseOf {
  'open-session': OpenedFrame;
  step: StepResultFrame;
  close: ClosedFrame;
  ping: PongFrame;
}
export type RequestFrame = Extract<Frame, { type: keyof ResponseOf }>;
export type ResponseFrame = ResponseOf[keyof ResponseOf] | ErrorFrame;
/** A request frame without its id (the RPC layer assigns ids). */
export type RequestBody<K extends keyof ResponseOf = keyof ResponseOf> = K extends keyof ResponseOf
  ? Omit<Extract<Frame, { type: K }>, 'id'>
  : never;

/** True for frames that ask for an answer. */
export function isRequest(f: Frame): f is RequestFrame {
  return f.type === 'open-session' || f.type === 'step' || f.type === 'close' || f.type === 'ping';
}

