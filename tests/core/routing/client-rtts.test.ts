// Per-client routing state follows each request's RTTs: a client whose RTTs changed gets the route the new ones favour.
import { describe, expect, it } from 'vitest';
import { bouquetRouting, jffcRouting, wsRrRouting, type RoutingPolicy } from '../../../core/routing/index.ts';
import type { RoutingDecision } from '../../../core/routing/index.ts';
import { placement, server, swarm } from './helpers.ts';

// Two equal servers, each holding every block: only the client's RTTs decide between them.
const servers = [server('a', 5), server('b', 5)];
// The live coordinator keeps one placement object while the routable volunteers are unchanged and
// builds a new snapshot per request with that request's RTTs; the same placement object is reused here.
const place = placement([
  ['a', 0, 4, 8],
  ['b', 0, 4, 8],
]);

function firstHop(d: RoutingDecision): string | undefined {
  return d.kind === 'route' ? d.chain.hops[0]?.serverId : undefined;
}

function routeWith(policy: RoutingPolicy, rtt: Record<string, number>): RoutingDecision {
  const sw = swarm(4, servers, { rtt });
  return policy.route({ swarm: sw, placement: place, state: { nowMs: 0, servers: new Map(), chainSessions: [0, 0] } }, { clientId: 'c', inputTokens: 4, outputTokens: 8 });
}

describe('per-client routing state', () => {
  for (const [name, make] of [
    ['jffc', jffcRouting],
    ['ws-rr', wsRrRouting],
    ['bouquet', bouquetRouting],
  ] as const) {
    it(`${name}: the second request of a client follows its new RTTs on the same placement`, () => {
      const policy = make();
      expect(firstHop(routeWith(policy, { a: 5, b: 200 }))).toBe('a');
      expect(firstHop(routeWith(policy, { a: 200, b: 5 }))).toBe('b');
    });
  }
});
