// Whole-slot restoration: after churn, moves volunteers towards the proposal when the spans in force lost every chain that holds the longest declaration.
import { shortestChainWithCost } from '../chains/index.ts';
import { cacheSlots } from '../perf/index.ts';
import { sameSpan, type BlockSpan, type SwarmSnapshot } from '../swarm/index.ts';
import { uncoveredBy } from './reconcile.ts';

/**
 * True when some chain over `spans` (each hop running a volunteer from where it enters to its
 * span's end) keeps a whole slot on every hop: k single-block slots where it runs k blocks, with
 * each volunteer's slots counted from its memory at its span's length. The longest declaration
 * the model allows can then be admitted once that chain is idle.
 */
export function holdsWholeSlot(model: SwarmSnapshot['model'], spans: ReadonlyMap<string, BlockSpan | null>, memoryOf: (peerId: string) => number): boolean {
  const placed: { serverId: string; span: BlockSpan | null; cacheSlots: number }[] = [];
  for (const [peerId, span] of spans) {
    if (span === null) continue;
    placed.push({ serverId: peerId, span, cacheSlots: cacheSlots(memoryOf(peerId), span.end - span.start, model.blockBytes, model.cacheBytesPerBlock) });
  }
  const slots = new Map(placed.map((p) => [p.serverId, p.cacheSlots]));
  return shortestChainWithCost(placed, model.numBlocks, () => 0, (id, k) => (slots.get(id) ?? 0) >= k) !== null;
}

/** What {@link wholeSlotMoves} reads. */
export interface WholeSlotInput {
  model: SwarmSnapshot['model'];
  /** Spans after reconcile (and rebalancing), by volunteer. */
  spans: ReadonlyMap<string, BlockSpan | null>;
  /** The policy's proposal, by volunteer. */
  proposed: ReadonlyMap<string, BlockSpan | null>;
  /** A volunteer's memory M_j, bytes. */
  memoryOf: (peerId: string) => number;
  /** Sessions running through a volunteer (a move ends them, so the fewest move first). */
  activeSessions: (peerId: string) => number;
  /** Moves still allowed this round. */
  maxMoves: number;
  /** Volunteers already changed this round. */
  exclude: ReadonlySet<string>;
}

/**
 * Planned in declared-length sessions, a swarm may keep spans on which no chain holds a whole slot
 * (a volunteer placed alone took every block beside short sessions; the proposal for the grown
 * swarm splits the model so that one does). Reconcile keeps spans, so without this the longest
 * declarations would have no route until churn moved someone. When the proposal holds a whole
 * slot and the spans in force do not, volunteers whose proposed span differs move to it, fewest
 * sessions first, one at a time (skipping a move that would uncover a block) until the spans hold
 * one. [] otherwise, and [] when the budget is spent before they do (a move ends sessions).
 */
export function wholeSlotMoves(input: WholeSlotInput): { peerId: string; span: BlockSpan | null }[] {
  const { model, proposed, memoryOf } = input;
  if (input.maxMoves <= 0 || holdsWholeSlot(model, input.spans, memoryOf) || !holdsWholeSlot(model, proposed, memoryOf)) return [];
  const spans = new Map(input.spans);
  const candidates = [...spans.keys()]
    // Only towards a proposed span: going idle never adds a chain, and would end the volunteer's sessions for nothing.
    .filter((id) => !input.exclude.has(id) && (proposed.get(id) ?? null) !== null && !sameSpan(spans.get(id) ?? null, proposed.get(id) ?? null))
    .sort((a, b) => input.activeSessions(a) - input.activeSessions(b) || a.localeCompare(b));
  const moves: { peerId: string; span: BlockSpan | null }[] = [];
  for (const id of candidates) {
    if (moves.length >= input.maxMoves) break;
    const before = spans.get(id) ?? null;
    const span = proposed.get(id) ?? null;
    spans.set(id, span);
    // A move that would leave a block uncovered is not made.
    if (uncoveredBy(spans.values(), model.numBlocks).length > 0) {
      spans.set(id, before);
      continue;
    }
    moves.push({ peerId: id, span });
    if (holdsWholeSlot(model, spans, memoryOf)) return moves;
  }
  // Within the budget no set of moves restores a whole slot: move nobody (each move ends sessions).
  return [];
}
