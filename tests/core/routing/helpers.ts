// Hand-built swarms and placements for routing tests (no placement policy involved).
import type { ServerSpec, SwarmSnapshot } from '../../../core/swarm/index.ts';
import type { PlacementResult, ServerAssignment } from '../../../core/placement/index.ts';

/** A server with decode τ ms per block and a flat prefill cost. */
export function server(id: string, decodeMsPerBlock: number, prefillFixedMs = 0): ServerSpec {
  return { id, memoryBytes: 1e12, decodeMsPerBlock, prefillMsPerBlock: { perTokenMs: 0, fixedMs: prefillFixedMs } };
}

/** A swarm of `servers` with one client at `rttMs` from each (per-server override in `rtt`). */
export function swarm(
  numBlocks: number,
  servers: ServerSpec[],
  opts: { rtt?: Record<string, number>; defaultRttMs?: number; serverServer?: Record<string, Record<string, number>>; overheadMs?: number } = {},
): SwarmSnapshot {
  const row: Record<string, number> = {};
  for (const s of servers) row[s.id] = opts.rtt?.[s.id] ?? opts.defaultRttMs ?? 20;
  return {
    model: { numBlocks, blockBytes: 1, cacheBytesPerBlock: 1 },
    servers,
    clients: [{ id: 'c' }],
    network: {
      clientServerRttMs: { c: row },
      ...(opts.serverServer !== undefined ? { serverServerRttMs: opts.serverServer } : {}),
      messageOverheadMs: opts.overheadMs ?? 0,
      prefillOverheadMs: { perTokenMs: 0, fixedMs: 0 },
    },
    workload: { arrivalRatePerS: 1, meanInputTokens: 1, meanOutputTokens: 1 },
  };
}

/** A placement from (server, start, end, slots) rows. */
export function placement(rows: [string, number, number, number][], extra: Partial<PlacementResult> = {}): PlacementResult {
  const assignments: ServerAssignment[] = rows.map(([serverId, start, end, cacheSlots]) => ({ serverId, span: { start, end }, cacheSlots }));
  return {
    policy: 'hand-made',
    assignments,
    prediction: { perTokenMs: 0, breakdown: { computeMs: 0, transferMs: 0, waitingMs: 0, totalMs: 0 } },
    runtimeMs: 0,
    ...extra,
  };
}
