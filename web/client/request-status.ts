// What a waiting request tells the person: coverage of the model by serving volunteers, and a plain-language status.
import type { SwarmState } from '../../core/api/index.ts';
import type { BlockSpan } from '../../core/swarm/index.ts';

/** Where a request stands while no token has come for a while. */
export type RequestStatus =
  | { kind: 'queued'; position: number; queueLength: number }
  | { kind: 'no-volunteer'; missing: BlockSpan[] }
  | { kind: 'replacing'; failedPeer: string; span: BlockSpan }
  | { kind: 'connecting' };

/** The blocks [0, numBlocks) no serving volunteer holds, as spans in block order (empty: the model is covered). */
export function missingSpans(state: SwarmState): BlockSpan[] {
  const covered = new Array<boolean>(state.model.numBlocks).fill(false);
  for (const v of state.volunteers) {
    if (v.state !== 'serving' || v.span === null) continue;
    for (let b = Math.max(0, v.span.start); b < Math.min(state.model.numBlocks, v.span.end); b++) covered[b] = true;
  }
  const spans: BlockSpan[] = [];
  for (let b = 0; b < covered.length; b++) {
    if (covered[b] === true) continue;
    const last = spans[spans.length - 1];
    if (last !== undefined && last.end === b) last.end = b + 1;
    else spans.push({ start: b, end: b + 1 });
  }
  return spans;
}

/** Blocks in a person's words: "block 3", "blocks 0–4" (inclusive, as people count), joined with commas. */
export function blocksInWords(spans: BlockSpan[]): string {
  const one = (s: BlockSpan): string => (s.end - s.start === 1 ? `block ${s.start}` : `blocks ${s.start}–${s.end - 1}`);
  return spans.map(one).join(', ');
}

/** The status line for a request that has waited `waitedMs` without a token. */
export function statusWords(status: RequestStatus, waitedMs: number): string {
  const s = Math.round(waitedMs / 1000);
  switch (status.kind) {
    case 'queued':
      return `Queued: position ${status.position} of ${status.queueLength}; every volunteer's cache is busy (${s} s so far).`;
    case 'no-volunteer':
      return `No volunteer serves ${blocksInWords(status.missing)} right now: waiting for one to join (${s} s so far). Open the volunteer page on a device to add one.`;
    case 'replacing':
      return `The volunteer serving ${blocksInWords([status.span])} of this answer dropped out: waiting for a volunteer to take them over (${s} s so far). The answer goes on from where it stopped.`;
    case 'connecting':
      return `Still connecting to the volunteers (${s} s). If this stays, WebRTC is blocked between your networks: the operator should configure TURN (bouquet serve --ice-servers turn:… --turn-secret …).`;
    default: {
      const never: never = status;
      return never;
    }
  }
}
