// The simulator: public surface of sim/ (scenarios, arrivals, the event loop, runs and reports).
export { simulate, eventRank, type SimConfig, type SimEvent, type SimView, type SimResult, type ChurnSpec, type AlgorithmTiming } from './engine.ts';
export { generateRequests, type SimRequest, type ArrivalSpec, type TraceEntry } from './arrivals.ts';
export { summarize, type SimMetrics, type Distribution, type ServerMetrics } from './metrics.ts';
export { seededRandom, streamRandom, exponential, gamma, variateWithCv, type Random } from './random.ts';
export { BinaryHeap } from './heap.ts';
export { loadScenario, parseScenario, ScenarioError, builtinPolicies, type Scenario, type PolicyCombo } from './scenario.ts';
export { resolvePolicy, routingFor, placeFor, runScenario } from './run.ts';
export { summarizeRuns, barChartSvg, compareCharts, compareMarkdown, type PolicySummary, type PolicyDetails } from './report.ts';
