// The simulator: public surface of sim/ (scenarios, arrivals, the event loop, runs and reports).
export {
  simulate,
  simulateAsync,
  eventRank,
  type SimConfig,
  type SimEvent,
  type SimView,
  type SimResult,
  type ChurnSpec,
  type ChurnTraceEntry,
  type AlgorithmTiming,
} from './engine.ts';
export {
  generateRequests,
  arrivalsAreStochastic,
  drawLength,
  lengthLawMean,
  type SimRequest,
  type ArrivalSpec,
  type TraceEntry,
  type LengthLaw,
} from './arrivals.ts';
export { summarize, type SimMetrics, type Distribution, type ServerMetrics } from './metrics.ts';
export { seededRandom, streamRandom, exponential, gamma, variateWithCv, type Random } from './random.ts';
export { BinaryHeap } from './heap.ts';
export { browserContention, contentionFactor, drawSpeedFactors, jitterFactor, slotTokensOf, type ServiceSpec, type ContentionSpec } from './service.ts';
export { parseScenario, ScenarioError, builtinPolicies, type Scenario, type PolicyCombo, type ParseScenarioOptions, type ScenarioFileReader } from './scenario.ts';
export { resolvePolicy, routingFor, placeFor, runScenario, plannedDeclaredTokens } from './run.ts';
export { fastestServiceMs, responseLowerBound, sessionCacheBytesPerBlock, type ResponseLowerBound } from './lower-bound.ts';
export { timeIndexedLowerBound, offlineIntervals, distinctChurnTraces, timeBoundDelayEdgesMs, timeBoundSlotMs, type TimeLowerBound, type TimeBoundOptions } from './time-bound.ts';
export { capacityLowerBound, expectedOnlineMs, packableUnits, capacityBoundMaxClasses, type CapacityLowerBound, type CapacityBoundOptions } from './capacity-bound.ts';
export {
  summarizeRuns,
  barChartSvg,
  compareCharts,
  compareMarkdown,
  studentT95,
  meanCi95,
  formatMeanCi,
  placementCapacityPerS,
  loadFigures,
  loadCell,
  policyMeanKeys,
  type PolicyMeans,
  type PolicySummary,
  type PolicyDetails,
  type LoadFigures,
  type ChartSeries,
} from './report.ts';
