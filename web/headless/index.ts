// The headless pages' public surface for Node drivers: the types of the handles they expose (the pages themselves are entries of web/headless-*.html).
export type { ChatHandle, ChatRequest, ChatResult, HeadlessGlobals, HopMeasurement, RawProbeResult, VolunteerHandle } from './handles.ts';
