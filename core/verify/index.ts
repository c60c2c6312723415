// Verified results, the pure parts: which steps to check, the tolerance they are compared within, what a volunteer signs for each step.
export { defaultVerifyTolerance, fp16WireVerifyTolerance, toleranceFor, compareOutputs, type VerifyTolerance, type OutputComparison } from './tolerance.ts';
export { emptyInputsDigest, tensorWireBytes, hex, nextInputsDigest, stepSigningText, type Sha256, type StepStatement } from './digest.ts';
export { defaultVerifyShare, probationVerifyShare, shouldCheck, catchProbability } from './schedule.ts';
