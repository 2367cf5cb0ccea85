/**
 * Red-team regression (#21, finding 4; failed before): a follower of the revocation feed missed a
 * revocation for good after a dropped stream. The feed's cursor was the revocation's `at`, stamped
 * by the clock of the instance that revoked: with a second instance's clock 3 s behind, the
 * follower resumed from the newest `at` it had seen and skipped what that instance committed later.
 * Here: two Baton instances on one SQLite file behind one address (a load balancer), the second's
 * clock 3 s behind, a resource server with `remoteIssuer` on the real HTTP feed, the stream cut
 * while the second instance revokes. The resource server must refuse that token, as the issuer does.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { createConnection, createServer as createTcpServer } from 'node:net';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createBaton, generateKey } from 'baton-auth';
import type { Baton, TokenStore } from 'baton-auth';
import { toNodeListener } from 'baton-auth/adapters/node';
import { createAuthHandler, staticClients } from 'baton-auth/http';
import { remoteIssuer } from 'baton-auth/remote';
import { sqliteStore } from 'baton-auth/stores/sqlite';
import { eventually } from '../../support/eventually.ts';

const SECRET = 'resource-server-secret-of-32-characters';
const dir = mkdtempSync(join(tmpdir(), 'baton-skew-'));
const servers: Server[] = [];
const stores: TokenStore[] = [];
const batons: Baton[] = [];
const sockets = new Set<Socket>();
let balancer: ReturnType<typeof createTcpServer>;
let issuer = '';
let target = 0;
let accepting = true;
const ports: number[] = [];

beforeAll(async () => {
  // The load balancer: each connection to the instance `target` names; `drop` cuts them all.
  balancer = createTcpServer((client) => {
    if (!accepting) return void client.destroy();
    const upstream = createConnection({ port: ports[target] as number, host: '127.0.0.1' });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s)).on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((r) => balancer.listen(0, '127.0.0.1', r));
  issuer = `http://127.0.0.1:${(balancer.address() as { port: number }).port}`;
  const keys = [generateKey('ES256', 'es')];
  const refreshTokenSecret = randomBytes(32);
  for (const offset of [0, -3000]) {
    const store = sqliteStore({ path: join(dir, 'baton.db') });
    const baton = createBaton({ issuer, keys, refreshTokenSecret, store, now: () => Date.now() + offset });
    const handler = createAuthHandler({ baton, authenticate: async () => null, clients: staticClients([{ id: 'rs', secret: SECRET, introspect: true }]) });
    const server = createServer(toNodeListener(handler, { origin: issuer }));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    ports.push((server.address() as { port: number }).port);
    stores.push(store);
    batons.push(baton);
    servers.push(server);
  }
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  for (const server of servers) server.closeAllConnections();
  await Promise.all([...servers, balancer].map((s) => new Promise((r) => s.close(r))));
  for (const baton of batons) baton.close();
  for (const store of stores) await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const refused = (v: ReturnType<typeof remoteIssuer>, token: string) =>
  v.verify(token).then(
    () => false,
    () => true,
  );

it('refuses a token revoked by an instance whose clock is 3 s behind, committed while the stream was down', async () => {
  const [a, b] = batons as [Baton, Baton];
  const first = await a.login('ada');
  const second = await b.login('bob');
  let connected = false;
  const v = remoteIssuer({ issuer, audience: issuer, introspection: { clientId: 'rs', clientSecret: SECRET }, onFeedState: (up) => (connected = up) });
  try {
    expect(await refused(v, first.access_token)).toBe(false);
    expect(await refused(v, second.access_token)).toBe(false);
    await eventually(() => connected, { what: 'the feed connected' });
    // The right clock revokes first: the follower's newest event (and old cursor) is its `at`.
    await a.revokeSession(first.session_id, 'logout');
    await eventually(() => refused(v, first.access_token), { what: 'the first revocation at the resource server' });
    // The worst moment: the stream is cut, and the instance 3 s behind revokes before it is back.
    accepting = false;
    for (const s of sockets) s.destroy();
    await eventually(() => !connected, { what: 'the feed down' });
    await b.revokeSession(second.session_id, 'logout');
    await eventually(
      () =>
        a.verify(second.access_token).then(
          () => false,
          (e: { code?: string }) => e.code === 'ERR_SESSION_REVOKED',
        ),
      { what: 'the issuer refusing it' },
    );
    target = 1; // the follower comes back through the other instance
    accepting = true;
    await eventually(() => connected, { what: 'the feed back' });
    await eventually(() => refused(v, second.access_token), { timeoutMs: 3000, what: 'the resource server refusing the token the issuer refuses' });
  } finally {
    v.close();
  }
});
