// The performance model (algorithms.md §1): public surface of core/perf.
export {
  PerfModelError,
  clientServerRttMs,
  perTokenRttMs,
  prefillRttMs,
  clientWorkMs,
  prefillMsPerBlock,
  serverById,
  requestTime,
  requestTimeWithIndex,
  serverIndex,
  type ServerIndex,
  perTokenMs,
  cacheSlots,
  waitForSlotsMs,
  contentionFactor,
  type ActiveSession,
} from './model.ts';
export {
  decodeLinkCostMs,
  requestLinkCostMs,
  clientWeights,
  serverJobCosts,
  jobLinkCostMs,
  type LinkCostMs,
  type ServerJobCost,
} from './links.ts';
export {
  maxMessageOverheadMs,
  maxClientMsPerToken,
  minCalibrationReports,
  fitMessageOverheadMs,
  fitPrefillFixedMs,
  boundedClientMsPerToken,
  plausiblePrefillMs,
  type OverheadSample,
} from './calibration.ts';
