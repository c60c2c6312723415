// Attacks on control actions: a policy switch without the admin token, or as a cross-site form, is refused with its code and moves nothing.
import { mkdtemp, rm, stat, writeFile, chmod, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { apiPaths } from '../../../core/api/index.ts';
import { adminTokenFile, createServer, loadOrCreateAdminToken, type BouquetServer, type ServerOptions } from '../../../server/index.ts';
import { adminHeaders, json, rawRequest, stories260K, TestVolunteer, until } from '../helpers.ts';

const blockBytes = 181_760;
const cacheBytesPerBlock = 131_072;
const servers: BouquetServer[] = [];
const volunteers: TestVolunteer[] = [];
const dirs: string[] = [];

afterEach(async () => {
  await Promise.all(volunteers.splice(0).map((v) => v.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function start(options: Partial<ServerOptions> = {}): Promise<BouquetServer> {
  const s = await createServer({ port: 0, model: stories260K, logger: 'silent', ...options, coordinator: { placementDelayMs: 5, workload: { concurrentRequests: 1 }, keyBoundPeerIds: false } });
  servers.push(s);
  return s;
}

async function tempDir(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'bouquet-state-'));
  dirs.push(d);
  return d;
}

/** Two volunteers serving, and how many assignments (block reloads) each got so far. */
async function swarmOfTwo(s: BouquetServer): Promise<() => number> {
  for (const peerId of ['p', 'q']) {
    volunteers.push(await TestVolunteer.join(s.url, { peerId, memoryBytes: 5 * blockBytes + 3 * 5 * cacheBytesPerBlock }));
  }
  await s.coordinator.whenSettled();
  await until(() => s.coordinator.state().volunteers.every((v) => v.state === 'serving'), 5000, 'volunteers serving');
  return () => volunteers.reduce((n, v) => n + v.messages.filter((m) => m.type === 'assignment').length, 0);
}

describe('control actions need the admin token', () => {
  it('a policy switch without credentials, with a wrong token, or as a cross-site text/plain form is refused: no switch, no reload', async () => {
    const s = await start({ policy: 'bprr' }); // BPRR pinned: the refused switch leaves it in force
    const assignments = await swarmOfTwo(s);
    const before = assignments();
    const url = s.url + apiPaths.placementPolicy;
    const body = JSON.stringify({ policy: 'gbp-cr' });

    const none = await json(url, { body: { policy: 'gbp-cr' } });
    expect(none.status).toBe(401);
    expect(none.body).toMatchObject({ error: { code: 'unauthorized' } });
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    const wrong = await json(url, { headers: { authorization: 'Bearer not-the-token-at-all' }, body: { policy: 'gbp-cr' } });
    expect(wrong.body).toMatchObject({ error: { code: 'unauthorized' } });
    // What a cross-site <form enctype="text/plain"> sends: no preflight, the browser adds Origin.
    const form = await rawRequest(url, { headers: { 'content-type': 'text/plain', origin: 'http://evil.example', 'sec-fetch-site': 'cross-site' }, body });
    expect(form.status).toBe(403);
    expect(form.body).toMatchObject({ error: { code: 'forbidden-origin' } });
    // …even carrying the token (a stolen header cannot make a cross-site page's post count).
    const crossWithToken = await rawRequest(url, { headers: { ...adminHeaders(s), 'content-type': 'application/json', origin: 'http://evil.example' }, body });
    expect(crossWithToken.body).toMatchObject({ error: { code: 'forbidden-origin' } });
    const fetchMeta = await rawRequest(url, { headers: { ...adminHeaders(s), 'content-type': 'application/json', 'sec-fetch-site': 'same-site' }, body });
    expect(fetchMeta.body).toMatchObject({ error: { code: 'forbidden-origin' } });
    // Non-JSON bodies are refused whoever sends them.
    const plain = await rawRequest(url, { headers: { ...adminHeaders(s), 'content-type': 'text/plain' }, body });
    expect(plain.status).toBe(415);
    expect(plain.body).toMatchObject({ error: { code: 'unsupported-media-type' } });
    const urlencoded = await rawRequest(url, { headers: { ...adminHeaders(s), 'content-type': 'application/x-www-form-urlencoded' }, body: 'policy=gbp-cr' });
    expect(urlencoded.body).toMatchObject({ error: { code: 'unsupported-media-type' } });

    await s.coordinator.whenSettled();
    expect(s.coordinator.state().placement.policy).toBe('bprr');
    expect(assignments()).toBe(before);

    // The honest admin, from the server's own page (same Origin) or a tool (no Origin), switches.
    const own = await rawRequest(url, { headers: { ...adminHeaders(s), 'content-type': 'application/json; charset=utf-8', origin: s.url, 'sec-fetch-site': 'same-origin' }, body });
    expect(own.status).toBe(200);
    expect(own.body).toMatchObject({ kind: 'placement-policy', placement: { policy: 'gbp-cr' } });
    expect(s.coordinator.state().placement.policy).toBe('gbp-cr');
    // Reads stay open to anyone; clients still get routes without any token.
    expect((await json(s.url + apiPaths.swarm)).status).toBe(200);
    expect((await json(s.url + apiPaths.routes, { body: { clientId: 'c', promptTokens: 4, maxNewTokens: 4 } })).status).toBe(200);
  });

  it('a route request as a cross-site form is refused too; a page of another site cannot open the dashboard or volunteer socket', async () => {
    const s = await start({ auth: { adminToken: 'a-given-admin-token-0123', allowedOrigins: ['http://dev.example:5173'] } });
    expect(s.adminToken).toBe('a-given-admin-token-0123');
    await swarmOfTwo(s);
    const form = await rawRequest(s.url + apiPaths.routes, {
      headers: { 'content-type': 'text/plain', origin: 'http://evil.example' },
      body: JSON.stringify({ clientId: 'c', promptTokens: 4, maxNewTokens: 4 }),
    });
    expect(form.body).toMatchObject({ error: { code: 'forbidden-origin' } });
    expect(s.coordinator.state().activeLeases).toBe(0);
    const allowed = await rawRequest(s.url + apiPaths.routes, {
      headers: { 'content-type': 'application/json', origin: 'http://dev.example:5173' },
      body: JSON.stringify({ clientId: 'c', promptTokens: 4, maxNewTokens: 4 }),
    });
    expect(allowed.status).toBe(200);
    const wsUrl = s.url.replace(/^http/, 'ws');
    const opened = (path: string, origin?: string): Promise<number> =>
      new Promise((resolve) => {
        const ws = new WebSocket(wsUrl + path, origin !== undefined ? { origin } : {});
        ws.on('open', () => {
          ws.close();
          resolve(101);
        });
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.on('error', () => undefined);
      });
    expect(await opened(apiPaths.dashboardSocket, 'http://evil.example')).toBe(403);
    expect(await opened(apiPaths.volunteerSocket, 'http://evil.example')).toBe(403);
    expect(await opened(apiPaths.dashboardSocket, s.url)).toBe(101);
    expect(await opened(apiPaths.dashboardSocket)).toBe(101);
  });
});

describe('the admin token file', () => {
  it('is generated at first start with owner-only permissions, then read back; a wider file is narrowed', async () => {
    const dir = path.join(await tempDir(), 'state');
    const s = await start({ stateDir: dir });
    const file = path.join(dir, adminTokenFile);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(dir)).mode & 0o077).toBe(0);
    expect((await readFile(file, 'utf8')).trim()).toBe(s.adminToken);
    expect(s.adminToken.length).toBeGreaterThanOrEqual(32);
    const ok = await json(s.url + apiPaths.placementPolicy, { headers: adminHeaders(s), body: { policy: 'astrology' } });
    expect(ok.body).toMatchObject({ error: { code: 'bad-request', field: 'policy' } }); // authorized: the policy name is what is wrong
    await s.close();
    const again = await start({ stateDir: dir });
    expect(again.adminToken).toBe(s.adminToken);
    await chmod(file, 0o644);
    expect(loadOrCreateAdminToken(dir).source).toBe('read');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });

  it('refuses a short given token or a garbled file with bad-argument', async () => {
    await expect(start({ auth: { adminToken: 'short' } })).rejects.toMatchObject({ code: 'bad-argument' });
    const dir = await tempDir();
    await writeFile(path.join(dir, adminTokenFile), 'x\n', { mode: 0o600 });
    expect(() => loadOrCreateAdminToken(dir)).toThrow(expect.objectContaining({ code: 'bad-argument' }) as Error);
  });
});
