// Failed requests clients report: validated, logged, kept (bounded, rate-limited per client) and listed for the dashboard.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoordinatorClient, type FailureReport } from '../../../core/api/index.ts';
import { createServer, FailureLog, type BouquetServer } from '../../../server/index.ts';
import { stories260K } from '../helpers.ts';

const report: FailureReport = { clientId: 'tab-1', stage: 'connect', code: 'timeout', message: 'no data connection', reason: 'turn-refused', peerId: 'v1' };

describe('FailureLog', () => {
  it('keeps the newest 50 and at most 10 a minute from one client', () => {
    const log = new FailureLog();
    for (let i = 0; i < 12; i++) log.add({ ...report, message: `m${i}` }, 1000 + i);
    expect(log.recent().map((f) => f.message)).toEqual(Array.from({ length: 10 }, (_, i) => `m${9 - i}`));
    expect(log.add(report, 1000 + 61_000)).toBe(true);
    for (let c = 0; c < 60; c++) log.add({ ...report, clientId: `c${c}` }, 70_000);
    expect(log.recent()).toHaveLength(50);
  });
});

describe('/api/failures', () => {
  let server: BouquetServer;
  beforeAll(async () => {
    server = await createServer({ model: stories260K, port: 0, logger: 'silent' });
  });
  afterAll(() => server.close());

  it('takes a report and lists it, newest first, with the time it came', async () => {
    const client = new CoordinatorClient({ origin: server.url });
    const before = Date.now();
    await client.reportFailure(report);
    await client.reportFailure({ clientId: 'tab-2', stage: 'coverage', code: 'no-route', message: 'no volunteer for blocks 0–4', span: { start: 0, end: 5 } });
    const [latest, first] = await client.recentFailures();
    expect(latest).toMatchObject({ clientId: 'tab-2', stage: 'coverage', span: { start: 0, end: 5 } });
    expect(first).toMatchObject(report);
    expect(first?.atMs).toBeGreaterThanOrEqual(before);
  });

  it.each([
    [{ ...report, stage: 'nowhere' }, 'stage'],
    [{ ...report, code: 'made-up' }, 'code'],
    [{ ...report, message: 'x'.repeat(501) }, 'message'],
    [{ ...report, reason: 'r'.repeat(41) }, 'reason'],
  ])('refuses a bad report with bad-request naming the field (%#)', async (body, field) => {
    const res = await fetch(`${server.url}/api/failures`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string; field?: string } }).error).toMatchObject({ code: 'bad-request', field });
  });
});
