/**
 * #21 round 3, B1: one ordinary user logging in over and over with their own password evicted a
 * session per login past `maxSessionsPerUser`, each one a session-revocation event that every
 * resource server keeps for its life (~16 min): at 123 logins a second, every resource server at
 * the default cap refused everyone after ~13.5 min. Now the engine spends a per-user login budget
 * (`loginRateLimit`, default 30 a minute) before anything is written: past it, 429 `slow_down`
 * with Retry-After, no session, no event. And a resource server says when it nears its cap.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { remoteIssuer } from 'baton-auth/remote';
import { loadConfig, startServer, users } from 'baton-auth-server';
import { clients } from '../../../packages/baton-auth-server/src/server/clients.ts';
import { eventually } from '../../support/eventually.ts';
import { API } from './mock-issuer.ts';

const secret = 'introspection-secret-of-32-characters!!';
let baton: Awaited<ReturnType<typeof startServer>>;
beforeAll(async () => {
  // One session per user: each login past the first evicts one, as the 51st does by default.
  baton = await startServer(
    loadConfig({
      PORT: '0',
      BATON_STORE: 'memory:',
      BATON_LOG_LEVEL: 'silent',
      BATON_RESOURCES: API,
      BATON_ALG: 'ES256',
      BATON_INTROSPECTION_SECRET: secret,
      BATON_MAX_SESSIONS: '1',
    }),
  );
  for (const name of ['ada', 'mallory', 'eve']) await users.add(baton.service.store, name, `${name} password 1`, 'orders:read');
  await clients.setScopes(baton.service.store, 'default', 'orders:read').catch(() => undefined);
});
afterAll(() => baton.stop());

const login = (username: string) =>
  fetch(`${baton.url}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password: `${username} password 1`, resource: API, scope: 'orders:read' }),
  });
const userOf = (token: string) => (JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString()) as { sub: string }).sub;

it('one user logging in 120 times in a row is refused (429 slow_down, Retry-After) past 30, and causes at most 30 revocation events; another user still logs in', async () => {
  const statuses: number[] = [];
  let refused: Response | undefined;
  let mallory = '';
  for (let i = 0; i < 120; i++) {
    const res = await login('mallory');
    statuses.push(res.status);
    if (res.status === 200) mallory = userOf(((await res.json()) as { access_token: string }).access_token);
    else if (refused === undefined) refused = res;
    else await res.body?.cancel();
  }
  const ok = statuses.filter((s) => s === 200).length;
  const mine = new Set((await baton.service.baton.listSessions(mallory)).map((s) => s.id));
  const events = (await baton.service.baton.revocationsSince(0)).filter((e) => e.kind === 'session');
  console.info(`login flood: 120 logins of one user → ${ok} accepted, ${statuses.length - ok} refused, ${events.length} session revocation events in the log`);
  // Before: 120 accepted, 119 evictions, each an event every resource server kept ~16 min.
  expect(ok).toBeLessThanOrEqual(30 * 2); // a fixed window: at most 2 · 30 across a window's edge
  expect(ok).toBeGreaterThanOrEqual(30);
  expect(events.length).toBeLessThanOrEqual(ok);
  expect(mine.size).toBe(1);
  expect(refused?.status).toBe(429);
  expect(await refused?.json()).toMatchObject({ error: 'slow_down' });
  expect(Number(refused?.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  expect((await login('ada')).status).toBe(200); // the budget is the user's, not everyone's
});

it('one user revoking 8 tokens in each of 3 sessions causes at most 16 token revocation events (then their session is revoked), and every token is refused', async () => {
  const post = (path: string, body: Record<string, string>) =>
    fetch(`${baton.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(body) });
  const jtiOf = (t: string) => (JSON.parse(Buffer.from(t.split('.')[1] as string, 'base64url').toString()) as { jti: string }).jti;
  const tokens: string[] = [];
  for (let s = 0; s < 3; s++) {
    const first = (await (await login('eve')).json()) as { access_token: string; refresh_token: string };
    const mine = [first.access_token];
    for (let i = 0; i < 7; i++)
      mine.push(
        (
          (await (await post('/oauth/token', { grant_type: 'refresh_token', refresh_token: first.refresh_token, client_id: 'default' })).json()) as {
            access_token: string;
          }
        ).access_token,
      );
    for (const token of mine) expect((await post('/oauth/revoke', { token, client_id: 'default' })).status).toBe(200);
    tokens.push(...mine);
  }
  const jtis = new Set(tokens.map(jtiOf));
  const events = (await baton.service.baton.revocationsSince(0)).filter((e) => e.kind === 'token' && jtis.has(e.id));
  console.info(`login flood: 24 tokens of one user revoked in 3 sessions → ${events.length} token revocation events`);
  expect(events.length).toBeLessThanOrEqual(16); // before: 24 (8 per session)
  for (const token of tokens) await expect(baton.service.baton.verify(token, { audience: API })).rejects.toThrow();
});

it('a resource server says when its revocations in force reach 80% of maxRevocations', async () => {
  const near: { kind: string; held: number; max: number }[] = [];
  const v = remoteIssuer({
    issuer: baton.url,
    audience: API,
    maxRevocations: 10,
    introspection: { clientId: 'resource-server', clientSecret: secret },
    onNearCap: (s) => near.push(s),
  });
  try {
    const ada = (await (await login('ada')).json()) as { access_token: string };
    await v.verify(ada.access_token).catch(() => undefined); // starts following the feed
    const now = Date.now();
    for (let i = 0; i < 8; i++) await baton.service.store.announce({ kind: 'token', id: `near-${i}`, at: now, expiresAt: now + 600_000, reason: 'revoked' });
    await eventually(() => near.some((s) => s.kind === 'token'), { what: 'the warning near the cap' });
    // The sessions the first test evicted are past it too: told once for each kind.
    expect(near).toEqual([
      { kind: 'session', held: 8, max: 10 },
      { kind: 'token', held: 8, max: 10 },
    ]);
  } finally {
    v.close();
  }
});

it('a client revoking its own client_credentials tokens one by one causes at most 16 token revocation events per revocation lifetime; past it 429 (round 3 red team: 2,000 tokens → 2,000 events)', async () => {
  const { secret: clientSecret } = await clients.add(baton.service.store, 'reports', {
    confidential: true,
    clientCredentials: true,
    resources: [API],
    scopes: 'orders:read',
  });
  const basic = `Basic ${Buffer.from(`reports:${clientSecret as string}`).toString('base64')}`;
  const post = (path: string, body: Record<string, string>) =>
    fetch(`${baton.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic },
      body: new URLSearchParams(body),
    });
  const statuses: number[] = [];
  const jtis = new Set<string>();
  for (let i = 0; i < 20; i++) {
    const res = await post('/oauth/token', { grant_type: 'client_credentials', resource: API });
    expect(res.status).toBe(200);
    const token = ((await res.json()) as { access_token: string }).access_token;
    jtis.add((JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString()) as { jti: string }).jti);
    statuses.push((await post('/oauth/revoke', { token })).status);
  }
  expect(statuses).toEqual([...Array(16).fill(200), ...Array(4).fill(429)]);
  const events = (await baton.service.baton.revocationsSince(0)).filter((e) => e.kind === 'token' && jtis.has(e.id));
  expect(events).toHaveLength(16);
});
