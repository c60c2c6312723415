// Scenario files on the Node side: public surface of tools/scenarios (the simulator itself never touches the disk).
export { loadScenario, loadScenarioFrom, maxFetchedScenarioBytes } from './load-scenario.ts';
