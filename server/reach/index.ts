// Reach across networks: ICE (STUN/TURN) configuration, short-lived TURN credentials, HTTPS certificates.
export { parseIceConfig, iceServersFor, type IceConfig } from './ice-config.ts';
export { turnCredential, defaultTurnCredentialTtlMs, type TurnCredential } from './turn-credentials.ts';
export { checkTlsCredentials, loadTlsCredentials, selfSignedTlsCredentials, CertificateError, type CertificateProblem, type TlsCredentials } from './tls.ts';
export { FailureLog, failureLogCapacity, failureReportsPerClientPerMinute } from './failure-log.ts';
