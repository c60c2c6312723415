// Volunteer records: session reports give a record, and one client's reports move a planned speed by at most 10 %.
import { describe, expect, it } from 'vitest';
import type { RouteRecord } from '../../../core/api/index.ts';
import { clientInfluence, maxReportingClients, VolunteerRecords } from '../../../server/index.ts';

/** A lease through `peerIds` predicted at `perTokenMs` per token for 8 new tokens. */
function lease(clientId: string, peerIds: string[], perTokenMs = 10): RouteRecord {
  return {
    leaseTag: `l-${clientId}`,
    clientId,
    chain: peerIds.map((peerId, i) => ({ peerId, span: { start: i, end: i + 1 } })),
    policy: 'jffc',
    promptTokens: 4,
    maxNewTokens: 8,
    predicted: { computeMs: 40, transferMs: 40, waitingMs: 0, totalMs: perTokenMs * 8 },
    queuedMs: 0,
    grantedAtMs: 0,
    outcome: 'released',
  };
}

/** The compute ratio of a report of `perTokenMs` per decoded token on a lease predicted at 10 ms per token. */
const report = (perTokenMs: number): number => perTokenMs / 10;

describe('volunteer records', () => {
  it('a report with tokens gives every hop a record; one with none does not', () => {
    const r = new VolunteerRecords();
    r.noteReport(lease('c', ['a', 'b']), 0, undefined, () => 1);
    expect(r.isVerified('a')).toBe(false);
    r.noteReport(lease('c', ['a', 'b']), 8, report(10), () => 1);
    expect(r.isVerified('a') && r.isVerified('b')).toBe(true);
    expect(r.anyVerified(['x', 'b'])).toBe(true);
  });

  it('one client reporting 100× slower, many times, moves the planned speed by at most 10 %', () => {
    const r = new VolunteerRecords();
    for (let i = 0; i < 50; i++) r.noteReport(lease('liar', ['a']), 8, report(1000), () => r.plannedDecodeMs('a', 2));
    expect(r.plannedDecodeMs('a', 2)).toBeLessThanOrEqual(2 * (1 + clientInfluence) + 1e-9);
    expect(r.plannedDecodeMs('a', 2)).toBeGreaterThan(2);
    // ... and 100× faster no further than 10 % down.
    const f = new VolunteerRecords();
    for (let i = 0; i < 50; i++) f.noteReport(lease('flatterer', ['a']), 8, report(0.1), () => f.plannedDecodeMs('a', 2));
    expect(f.plannedDecodeMs('a', 2)).toBeGreaterThanOrEqual(2 * (1 - clientInfluence) - 1e-9);
  });

  it('many clients that agree move it to what they measure; a lone dissenter among them barely moves it', () => {
    const r = new VolunteerRecords();
    // Every client measures twice the predicted per-token time (planned τ 2 ms → 4 ms).
    for (let i = 0; i < 20; i++) r.noteReport(lease(`c${i}`, ['a']), 8, report(20), () => 2);
    expect(r.plannedDecodeMs('a', 2)).toBeCloseTo(4, 6);
    r.noteReport(lease('dissenter', ['a']), 8, report(10_000), () => 4);
    expect(r.plannedDecodeMs('a', 2)).toBeLessThanOrEqual(4 * (1 + clientInfluence));
  });

  it('keeps at most maxReportingClients clients per volunteer', () => {
    const r = new VolunteerRecords();
    for (let i = 0; i < maxReportingClients * 3; i++) r.noteReport(lease(`c${i}`, ['a']), 8, report(10), () => 1);
    // The planned value is still computed from a bounded set (its leave-one-out pass is quadratic in it).
    expect(Number.isFinite(r.plannedDecodeMs('a', 1))).toBe(true);
    expect(r.clientsOf('a')).toBe(maxReportingClients);
  });
});
