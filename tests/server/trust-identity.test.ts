// Attacks on identities and leases against a real server on loopback (issue 13's table): each fails with a coded error, honest peers undisturbed.
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  apiPaths, parseRouteResponse, routeReleasePath, routeRenewPath, routeTicketPath,
  type LeaseGrant, type RouteResponse,
} from '../../core/api/index.ts';
import { coordinatorKeyFile, CoordinatorKey, type BouquetServer, type ServerOptions } from '../../server/index.ts';
import { VolunteerIdentity } from '../../web/volunteer/index.ts';
import { NodeIdentity } from '../support/node-identity.ts';
import { budget, json, TestServers, TestVolunteer, until } from './helpers.ts';
import { askRoute, granted, swarmState } from './swarm-api.ts';

const swarmOf = new TestServers();
const volunteers = swarmOf.volunteers;
const sockets = swarmOf.sockets;
const dirs: string[] = [];
afterEach(async () => {
  await swarmOf.cleanUp();
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

function start(options: Partial<ServerOptions> = {}): Promise<BouquetServer> {
  return swarmOf.start(options);
}

function join(s: BouquetServer, o: Parameters<typeof TestVolunteer.join>[1]): Promise<TestVolunteer> {
  return swarmOf.join(s, o);
}

function route(s: BouquetServer, clientId: string): Promise<RouteResponse> {
  return askRoute(s, { clientId, promptTokens: 8, maxNewTokens: 8 });
}

/** One volunteer serving all 5 blocks with room for exactly one full-span session. */
async function oneSlotSwarm(s: BouquetServer, identity?: VolunteerIdentity): Promise<TestVolunteer> {
  const v = await join(s, { memoryBytes: budget(5, 5), ...(identity !== undefined ? { identity } : {}) });
  await s.coordinator.whenSettled();
  await until(() => s.coordinator.state().volunteers.every((x) => x.state === 'serving' && x.span !== null), 5000, 'serving');
  return v;
}

/** A PeerJS signaling login over a real WebSocket: 'open' (the server said OPEN) or the HTTP status it was refused with. */
function signalingLogin(s: BouquetServer, id: string, token: string): Promise<{ ws: WebSocket; result: 'open' | number }> {
  const ws = new WebSocket(`${s.url.replace('http', 'ws')}${apiPaths.peerjs}/peerjs?key=peerjs&id=${encodeURIComponent(id)}&token=${encodeURIComponent(token)}`);
  sockets.push(ws);
  return new Promise((resolve, reject) => {
    ws.once('message', (d: Buffer) => {
      const m = JSON.parse(d.toString('utf8')) as { type?: string };
      if (m.type === 'OPEN') resolve({ ws, result: 'open' });
      else reject(new Error(`signaling answered ${JSON.stringify(m)}`));
    });
    ws.once('unexpected-response', (_req, res) => resolve({ ws, result: res.statusCode ?? 0 }));
    ws.once('error', () => undefined);
  });
}

describe('identities', () => {
  it('registering with another volunteer\'s peer id is refused (identity-refused), 10/10, and the real volunteer is undisturbed', async () => {
    const s = await start();
    const victim = await oneSlotSwarm(s);
    const captured = await victim.registration(); // what an onlooker of its socket saw
    const codes: string[] = [];
    for (let i = 0; i < 10; i++) {
      const attacker = await TestVolunteer.connect(s.url, { memoryBytes: budget(5, 5) });
      volunteers.push(attacker);
      const answer = attacker.next((m) => m.type === 'registered' || m.type === 'error');
      if (i % 3 === 0) await attacker.register({ peerId: victim.peerId }); // its own key, the victim's id
      else if (i % 3 === 1) await attacker.register({ peerId: victim.peerId, publicKey: victim.identity.publicKey }); // the victim's key, no private key
      else attacker.send(captured); // a replay of the victim's own registration (another socket's nonce)
      const m = await answer;
      codes.push(m.type === 'error' ? m.error.code : m.type);
    }
    expect(codes).toEqual(Array(10).fill('identity-refused'));
    const st = await swarmState(s);
    expect(st.volunteers.map((v) => v.peerId)).toEqual([victim.peerId]);
    expect(victim.closedWith).toBeUndefined();
    // It re-registers on its own socket (same key, fresh proof) without trouble.
    const again = victim.next((m) => m.type === 'registered' || m.type === 'error');
    await victim.register();
    expect((await again).type).toBe('registered');
  });

  it('with hand-picked peer ids a second key cannot take an id the first key holds', async () => {
    const s = await start({ coordinator: { keyBoundPeerIds: false } });
    const victim = await join(s, { peerId: 'v1', memoryBytes: budget(5, 5) });
    const attacker = await TestVolunteer.connect(s.url, { peerId: 'v1', memoryBytes: budget(5, 5) });
    volunteers.push(attacker);
    const answer = attacker.next((m) => m.type === 'registered' || m.type === 'error');
    await attacker.register();
    expect(await answer).toMatchObject({ type: 'error', error: { code: 'identity-refused', field: 'peerId' } });
    expect(victim.closedWith).toBeUndefined();
    expect((await swarmState(s)).volunteers.map((v) => v.peerId)).toEqual(['v1']);
  });

  it('the signaling server admits a volunteer\'s peer id only with its key\'s token, also after its socket drops', async () => {
    const s = await start();
    const volunteer = NodeIdentity.create();
    const real = await signalingLogin(s, volunteer.peerId, volunteer.signalingToken());
    expect(real.result).toBe('open');
    // While it is connected, and after its signaling socket drops, no one else gets the id.
    expect((await signalingLogin(s, volunteer.peerId, 'random-token')).result).toBe(403);
    const other = NodeIdentity.create();
    expect((await signalingLogin(s, volunteer.peerId, other.signalingToken())).result).toBe(403);
    await new Promise<void>((resolve) => {
      real.ws.once('close', () => resolve());
      real.ws.terminate();
    });
    await new Promise((r) => setTimeout(r, 50));
    expect((await signalingLogin(s, volunteer.peerId, 'random-token')).result).toBe(403);
    const forged = `${volunteer.signalingToken().split('.')[0] ?? ''}.${other.sign('bouquet signaling v1\n' + volunteer.peerId)}`;
    expect((await signalingLogin(s, volunteer.peerId, forged)).result).toBe(403);
    // The volunteer itself gets back in; clients' ids (not key-bound) sign in as before.
    expect((await signalingLogin(s, volunteer.peerId, volunteer.signalingToken())).result).toBe('open');
    expect((await signalingLogin(s, 'client-tab-1', 't1')).result).toBe('open');
  });
});

describe('leases', () => {
  it('are never published, and releasing or renewing one without its secret is refused (lease-refused) with no overbooking', async () => {
    const s = await start({ policy: 'bprr', routing: 'jffc' }); // JFFC queues when every chain is full (WS-RR would share it); whole-slot bookings
    await oneSlotSwarm(s);
    const events: string[] = [];
    const dash = new WebSocket(s.url.replace('http', 'ws') + apiPaths.dashboardSocket);
    sockets.push(dash);
    dash.on('message', (d: Buffer) => events.push(d.toString('utf8')));
    await new Promise((r) => dash.once('open', r));
    const g = granted(await route(s, 'owner'));
    expect(g.leaseId).toMatch(/^[A-Za-z0-9_-]{22}$/); // 128 random bits
    await until(() => events.some((e) => e.includes(g.leaseTag)), 2000, 'the route event');
    const published = JSON.stringify((await json(s.url + apiPaths.swarm)).body) + events.join('\n');
    expect(published).toContain(g.leaseTag);
    expect(published).not.toContain(g.leaseId);
    expect(published).not.toContain(g.leaseSecret);

    // Someone who learnt the id (a volunteer sees it in the signed lease) but not the secret.
    const forged = await json(s.url + routeReleasePath(g.leaseId), { body: { leaseSecret: 'guess', measured: { totalMs: 1, tokens: 9999 } } });
    expect(forged.status).toBe(403);
    expect(forged.body).toMatchObject({ kind: 'error', error: { code: 'lease-refused' } });
    expect((await json(s.url + routeRenewPath(g.leaseId), { body: { leaseSecret: g.leaseSecret.slice(1) + 'A' } })).body).toMatchObject({ error: { code: 'lease-refused' } });
    expect((await json(s.url + routeRenewPath(g.leaseId), { body: {} })).body).toMatchObject({ error: { code: 'bad-request', field: 'leaseSecret' } });
    const st = await swarmState(s);
    expect(st.activeLeases).toBe(1);
    expect(st.volunteers[0]?.leasedSlots).toBe(5);
    // The only chain is still booked: a second client waits rather than overbooking it.
    const second = await route(s, 'second');
    expect(second.kind).toBe('queued');
    // The owner renews and releases with its secret; the queued client then gets the chain.
    expect((await json(s.url + routeRenewPath(g.leaseId), { body: { leaseSecret: g.leaseSecret } })).status).toBe(200);
    expect((await json(s.url + routeReleasePath(g.leaseId), { body: { leaseSecret: g.leaseSecret } })).status).toBe(200);
    if (second.kind !== 'queued') throw new Error('not queued');
    const polled = parseRouteResponse((await json(`${s.url}${routeTicketPath(second.ticketId)}?waitMs=2000`)).body);
    expect(polled.ok && polled.value.kind).toBe('route');
  });

  it('a restarted coordinator rebuilds its book from the volunteers\' reports and never overbooks; the old secrets still work', async () => {
    const stateDir = await mkdtemp(path.join(tmpdir(), 'bouquet-state-'));
    dirs.push(stateDir);
    const first = await start({ stateDir, routing: 'jffc' });
    expect((await stat(path.join(stateDir, coordinatorKeyFile))).mode & 0o777).toBe(0o600);
    const identity = await VolunteerIdentity.load();
    const v1 = await oneSlotSwarm(first, identity);
    const span = v1.span;
    const g = granted(await route(first, 'owner'));
    await first.close(); // the coordinator goes away; the session goes on peer to peer
    await until(() => v1.closedWith !== undefined, 2000, 'the socket to close');

    const second = await start({ stateDir, routing: 'jffc' });
    expect(second.coordinator.key.publicKey).toBe(first.coordinator.key.publicKey);
    // A lease another key signed (a volunteer inventing bookings) is not taken.
    const foreign = CoordinatorKey.ephemeral().signLease({ ...(JSON.parse(Buffer.from(g.leaseToken.split('.')[0] ?? '', 'base64url').toString('utf8')) as LeaseGrant), leaseId: 'invented' });
    await join(second, { identity, memoryBytes: budget(5, 5), ...(span !== null ? { loadedSpan: span } : {}), sessions: [g.leaseToken, foreign] });
    const st = await swarmState(second);
    expect(st.activeLeases).toBe(1);
    expect(st.volunteers[0]?.leasedSlots).toBe(5);
    expect(st.recentRoutes.map((r) => r.leaseTag)).toEqual([g.leaseTag]);
    expect((await route(second, 'newcomer')).kind).toBe('queued');
    // The client's secret from before the restart still releases its lease.
    expect((await json(second.url + routeReleasePath(g.leaseId), { body: { leaseSecret: g.leaseSecret } })).status).toBe(200);
    expect((await swarmState(second)).activeLeases).toBe(1); // the newcomer's, granted from the queue
  });
});
