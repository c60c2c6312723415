// WS-RR: a busy fast server is avoided when its expected wait outweighs its speed, used when the wait is short.
import { describe, expect, it } from 'vitest';
import { expectedWaitMs, wsRrRouting, type RoutingState } from '../../../core/routing/index.ts';
import { placement, server, swarm } from './helpers.ts';

describe('ws-rr routing', () => {
  // Fast F: 10 ms/block; slow S: 30 ms/block; both host all 4 blocks; 8 output tokens.
  // No wait (prefill compute 0, RTT 20 ms): F costs 20 + 7·(20 + 40) = 440 ms, S costs 20 + 7·(20 + 120) = 1000 ms.
  const sw = swarm(4, [server('F', 10), server('S', 30)]);
  const place = placement([
    ['F', 0, 4, 4],
    ['S', 0, 4, 4],
  ]);
  const busyF = (endsAtMs: number): RoutingState => ({
    nowMs: 1000,
    servers: new Map([['F', { online: true, freeSlots: 0, sessions: [{ slots: 4, expectedEndMs: endsAtMs }] }]]),
  });
  const route = (state: RoutingState) => wsRrRouting().route({ swarm: sw, placement: place, state }, { clientId: 'c', inputTokens: 1, outputTokens: 8 });

  it('takes the fast server when it is free', () => {
    const d = route({ nowMs: 0, servers: new Map() });
    expect(d.kind === 'route' && d.chain.hops.map((h) => h.serverId)).toEqual(['F']);
  });

  it('avoids the busy fast server when waiting for it costs more than the slow one', () => {
    const d = route(busyF(1000 + 5000)); // wait 5 s + 440 ms > 1000 ms
    expect(d.kind).toBe('route');
    if (d.kind !== 'route') return;
    expect(d.chain.hops.map((h) => h.serverId)).toEqual(['S']);
    expect(d.expectedWaitMs).toBe(0);
  });

  it('waits for the fast server when its wait is shorter than the speed difference', () => {
    const d = route(busyF(1000 + 200)); // wait 200 ms + 440 ms < 1000 ms
    expect(d.kind).toBe('route');
    if (d.kind !== 'route') return;
    expect(d.chain.hops.map((h) => h.serverId)).toEqual(['F']);
    expect(d.expectedWaitMs).toBe(200);
    expect(d.predicted.waitingMs).toBe(200);
    expect(d.predicted.totalMs).toBeCloseTo(640, 6);
  });

  it('computes the wait from held slots sorted by expected completion', () => {
    const load = { online: true, freeSlots: 1, sessions: [{ slots: 2, expectedEndMs: 900 }, { slots: 1, expectedEndMs: 300 }] };
    expect(expectedWaitMs(100, load, 1)).toBe(0);
    expect(expectedWaitMs(100, load, 2)).toBe(200);
    expect(expectedWaitMs(100, load, 4)).toBe(800);
    expect(expectedWaitMs(100, load, 5)).toBe(Infinity);
  });
});
