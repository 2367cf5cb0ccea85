/**
 * Red-team regression (#21, finding 2; failed before): `remoteIssuer` kept at most 100,000
 * revocations per kind and dropped the oldest one in force to make room; an ordinary user flooded
 * it (each rotation allows 100 grace answers, each a new jti, each revoked by RFC 7009) and the
 * victim's logged-out token was accepted again while the issuer refused it. Now:
 * - the issuer turns a session's token revocations past 8 into one revocation of the session,
 *   so one user's flood is a handful of events (counted in the log);
 * - the resource server never drops a revocation in force: past `maxRevocations` it refuses every
 *   token (503) until enough expired, then reads the backlog again and accepts tokens again.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { remoteIssuer } from 'baton-auth/remote';
import { loadConfig, startServer, users } from 'baton-auth-server';
import { clients } from '../../../packages/baton-auth-server/src/server/clients.ts';
import { eventually } from '../../support/eventually.ts';
import { API, mockIssuer } from './mock-issuer.ts';

const secret = 'introspection-secret-of-32-characters!!';
let baton: Awaited<ReturnType<typeof startServer>>;
beforeAll(async () => {
  baton = await startServer(
    loadConfig({ PORT: '0', BATON_STORE: 'memory:', BATON_LOG_LEVEL: 'silent', BATON_RESOURCES: API, BATON_ALG: 'ES256', BATON_INTROSPECTION_SECRET: secret }),
  );
  for (const name of ['ada', 'mallory']) await users.add(baton.service.store, name, `${name} password 1`, 'orders:read');
  await clients.setScopes(baton.service.store, 'default', 'orders:read').catch(() => undefined);
});
afterAll(() => baton.stop());

const post = (path: string, body: Record<string, string>) =>
  fetch(`${baton.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(body) });
const login = async (username: string): Promise<{ access_token: string; refresh_token: string }> => {
  const res = await fetch(`${baton.url}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password: `${username} password 1`, resource: API, scope: 'orders:read' }),
  });
  return (await res.json()) as { access_token: string; refresh_token: string };
};
const claimsOf = (t: string) => JSON.parse(Buffer.from(t.split('.')[1] as string, 'base64url').toString()) as { sid: string; jti: string };

/** The flood of the audit, by one user: fresh access tokens from grace answers of one refresh token, each revoked (RFC 7009). */
async function flood(count: number): Promise<{ sid: string; jtis: string[]; tokens: string[] }> {
  const first = await login('mallory');
  const tokens = [first.access_token];
  for (let i = 0; i < count - 1; i++) {
    const res = await post('/oauth/token', { grant_type: 'refresh_token', refresh_token: first.refresh_token, client_id: 'default' });
    expect(res.status).toBe(200);
    tokens.push(((await res.json()) as { access_token: string }).access_token);
  }
  for (const token of tokens) expect((await post('/oauth/revoke', { token, client_id: 'default' })).status).toBe(200);
  return { sid: claimsOf(first.access_token).sid, jtis: tokens.map((t) => claimsOf(t).jti), tokens };
}

it('one user revoking 40 of their own access tokens causes at most 9 revocation events, and every token is refused', async () => {
  const { sid, jtis, tokens } = await flood(40);
  const events = (await baton.service.baton.revocationsSince(0)).filter(
    (e) => (e.kind === 'session' && e.id === sid) || (e.kind === 'token' && jtis.includes(e.id)),
  );
  console.info(
    `revocation flood: 40 tokens revoked by one user → ${events.length} events in the log (${events.filter((e) => e.kind === 'token').length} token, ${events.filter((e) => e.kind === 'session').length} session)`,
  );
  expect(events.length).toBeLessThanOrEqual(8 + 1); // TOKEN_REVOCATIONS_PER_SESSION, then the session
  for (const token of tokens) await expect(baton.service.baton.verify(token, { audience: API })).rejects.toThrow();
});

it("a resource server past maxRevocations refuses every token (503) rather than forget the victim's revocation", async () => {
  const victim = await login('ada');
  expect((await post('/oauth/revoke', { token: victim.access_token, client_id: 'default' })).status).toBe(200); // the victim revokes its token
  // Room for the token revocations in force now and 2 more: the flood's 8 go past it.
  const cap = (await baton.service.baton.revocationsSince(0)).filter((e) => e.kind === 'token').length + 2;
  const v = remoteIssuer({ issuer: baton.url, audience: API, maxRevocations: cap, introspection: { clientId: 'resource-server', clientSecret: secret } });
  try {
    await expect(v.verify(victim.access_token)).rejects.toMatchObject({ code: 'ERR_TOKEN_REVOKED' });
    await flood(12); // more token revocations in force than the resource server keeps
    const fresh = await login('ada');
    await eventually(
      () =>
        v.verify(fresh.access_token).then(
          () => false,
          (e: { code?: string }) => e.code === 'ERR_STORE_UNAVAILABLE',
        ),
      { what: 'the resource server failing closed' },
    );
    // Before: the oldest (the victim's logout) was dropped and the victim's token accepted again.
    await expect(v.verify(victim.access_token)).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' });
    expect(() => remoteIssuer({ issuer: baton.url, audience: API, maxRevocations: 0 })).toThrow(/maxRevocations must be a whole number of at least 1/);
    expect(() => remoteIssuer({ issuer: baton.url, audience: API, maxRevocations: 1.5 })).toThrow(/maxRevocations/);
  } finally {
    v.close();
  }
});

it("at the default cap (100,000 per kind), the victim's revoked token stays refused after 100,000 more revocations", async () => {
  const victim = await login('ada');
  expect((await post('/oauth/revoke', { token: victim.access_token, client_id: 'default' })).status).toBe(200);
  let flooded = 0;
  const v = remoteIssuer({
    issuer: baton.url,
    audience: API,
    introspection: { clientId: 'resource-server', clientSecret: secret },
    onRevocation: (e) => void (e.id.startsWith('flood-') && flooded++),
  });
  try {
    await expect(v.verify(victim.access_token)).rejects.toMatchObject({ code: 'ERR_TOKEN_REVOKED' });
    // As many users' revocations would be (one user causes at most 9): straight into the issuer's log.
    const now = Date.now();
    for (let i = 0; i < 100_000; i++)
      await baton.service.store.announce({ kind: 'token', id: `flood-${i}`, at: now, expiresAt: now + 600_000, reason: 'revoked' });
    await eventually(() => flooded === 100_000, { timeoutMs: 30_000, what: 'the flood at the resource server' });
    // Before: the victim's revocation, the oldest, was dropped to make room, and its token accepted again.
    await expect(v.verify(victim.access_token)).rejects.toThrow();
  } finally {
    v.close();
  }
}, 60_000);

it('once enough revocations expired, it reads the backlog again and decides tokens again', async () => {
  // A scripted issuer: 4 revocations that expire in 1.5 s, then, on the next connection, the one still in force.
  let connections = 0;
  const issuer = await mockIssuer({
    feed: (_req, res) => {
      connections++;
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const t = Date.now();
      const event = (n: number, expiresAt: number) =>
        `id: ${n}\nevent: revocation\ndata: ${JSON.stringify({ kind: 'session', id: `s-${n}`, at: t, expiresAt })}\n\n`;
      if (connections === 1) res.write([1, 2, 3, 4].map((n) => event(n, t + 1500)).join('') + event(5, t + 600_000));
      else res.write(event(5, t + 600_000));
      res.write('id: 5\nevent: ready\ndata: {}\n\n');
    },
  });
  const v = remoteIssuer({ issuer: issuer.url, audience: API, maxRevocations: 3, introspection: { clientId: 'rs', clientSecret: 'x' } });
  try {
    const good = await issuer.sign({ sid: 'live', jti: 'j-live' });
    await expect(v.verify(good)).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' }); // 5 in force, 3 kept: fail closed
    await eventually(
      () =>
        v.verify(good).then(
          () => true,
          () => false,
        ),
      { what: 'tokens decided again once 4 expired' },
    );
    expect(connections).toBe(2); // the backlog read again
    await expect(v.verify(await issuer.sign({ sid: 's-5', jti: 'j-5' }))).rejects.toMatchObject({ code: 'ERR_SESSION_REVOKED' });
  } finally {
    v.close();
    await issuer.close();
  }
});
