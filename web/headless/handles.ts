// The handles the headless pages put on their global object (plain data and promises): typed without DOM so Node drivers (tools/, tests/) can read them in page.evaluate.
import type { Frame } from '../../core/protocol/index.ts';
import type { FailoverRecord, RouteHopSpec, VerifyReport } from '../client/index.ts';
import type { VolunteerSnapshot } from '../volunteer/index.ts';

/** What `generate` takes. */
export interface ChatRequest {
  prompt: string;
  maxNewTokens: number;
  /** 0 = greedy (default). */
  temperature?: number;
  topP?: number;
  seed?: number;
}

/** What `generate` answers (plain JSON). */
export interface ChatResult {
  text: string;
  ids: number[];
  route: RouteHopSpec[];
  failovers: FailoverRecord[];
  perTokenMs: number[];
  ttftMs: number;
  totalMs: number;
  /** Verified results: steps compared on checkers, and the shadow sessions that took. */
  verification?: VerifyReport;
  /** The client's own work per decode token (what its release reported), ms; absent after a failover. */
  clientMsPerToken?: number;
}

/** Error frames a raw probe got back. */
export interface RawProbeResult {
  replies: { type: Frame['type']; id: number; code?: string }[];
}

/** Round trips of one hop, ms. */
export interface HopMeasurement {
  pingMs: number[];
  stepMs: number[];
}

/** The headless chat page's handle (`bouquetChat`). */
export interface ChatHandle {
  ready: boolean;
  error: string | null;
  peerId: string;
  backend: string;
  generate(req: ChatRequest): Promise<ChatResult>;
  /** Diagnostics for tests: sends raw packets to a peer and collects the frames it answers within `waitMs`. */
  probeRaw(peerId: string, packets: number[][], waitMs: number): Promise<RawProbeResult>;
  /** The ICE candidate pair of each open peer connection ('relay' = through TURN). */
  candidatePairs(): Promise<{ peerId: string; localType: string; remoteType: string; rttMs?: number }[]>;
  /**
   * Benchmark: `n` pings and `steps` (default `n`) one-token steps over block `block` of a peer; round
   * trips in ms. Steps need a session, which volunteers open only for a signed lease: pass 0 where
   * the page holds none for this peer (pings need no session).
   */
  measureHop(peerId: string, block: number, n: number, steps?: number): Promise<HopMeasurement>;
  /** The client's own RTT measurement (one ping each over its links), ms by peer: reported with its next route request. */
  measureRtts(peerIds: string[]): Promise<Record<string, number>>;
}

/** The headless volunteer page's handle (`bouquetVolunteer`). */
export interface VolunteerHandle {
  snapshot(): VolunteerSnapshot;
  leave(): Promise<void>;
  error: string | null;
}

/**
 * What the headless pages add to their global object. A driver's page.evaluate callback reads them as
 * `(globalThis as unknown as HeadlessGlobals).bouquetChat` (the callback runs in the page, so it
 * may use no import, only types).
 */
export interface HeadlessGlobals {
  bouquetChat?: ChatHandle;
  bouquetVolunteer?: VolunteerHandle;
  /** Set by a driver (playwright exposeFunction) to receive streamed text. */
  bouquetOnToken?: (piece: string, index: number, latencyMs: number) => void;
}
