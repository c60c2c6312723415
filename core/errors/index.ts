// One error model for every part: a stable `code` (and optional plain data) that survives every boundary.
export { BouquetError, isBouquetError, type ErrorData } from './base.ts';
export { errorCodes, isErrorCode, type ErrorCode } from './codes.ts';
export { errorToWire, errorFromWire, parseWireError, type WireError } from './wire.ts';
export { registerErrorKind, errorKind, errorKindName, errorKinds, type ErrorKind } from './kinds.ts';
export type { ErrorKinds } from './wire.ts';
