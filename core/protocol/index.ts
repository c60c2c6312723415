// The peer protocol: binary frames, chunking, errors with codes, the Transport contract and its in-memory implementation.
export { PeerError, peerErrorCodes, isPeerErrorCode, toPeerError, type PeerErrorCode } from './errors.ts';
export {
  encodeFrame, decodeFrame, errorFrame, errorFromFrame, dtypeBytes,
  frameMagic, frameVersion, maxStepSignatureBytes, frameHeaderBytes, maxSessionIdBytes, maxErrorMessageBytes, maxHiddenCols,
  defaultDecodeLimits, type DecodeLimits,
} from './frames.ts';
export {
  isRequest,
  type WireDtype, type HiddenStates, type Frame, type FrameType, type RequestFrame, type ResponseFrame,
  type ResponseOf, type RequestBody,
  type OpenSessionFrame, type OpenedFrame, type StepFrame, type StepResultFrame, type CloseFrame,
  type ClosedFrame, type PingFrame, type PongFrame, type ErrorFrame,
} from './frame-types.ts';
export { protocolVersion } from './version.ts';
export { float32ToFloat16Bits, float16BitsToFloat32 } from './fp16.ts';
export {
  toPackets, Reassembler, dataChannelMaxMessageBytes, packetMagic, chunkHeaderBytes, wholeHeaderBytes,
  defaultReassemblyLimits, type ReassemblyLimits,
} from './chunking.ts';
export type { Transport, PeerConnection, ConnectOptions } from './transport.ts';
export { MemoryNetwork, MemoryTransport, type MemoryNetworkOptions } from './memory-transport.ts';
export { PacketInbox } from './inbox.ts';
export { FrameLink, type FrameLinkOptions, type RequestHandler } from './link.ts';
