/**
 * The audit trail of the library (`audit` option, `Baton.audit`): every kind of event driven
 * through the real handler with `Request`s — logins, refreshes, sessions' ends, revocations, keys,
 * client authentication, the authorization code flow, consents, registration — each a record of
 * schema 1, and none of the secrets the test used (passwords, tokens, codes, verifiers, client
 * secrets) anywhere in what the sink received. A sink that throws breaks no request.
 */
import { describe, expect, it } from 'vitest';
import { AUDIT_EVENT_TYPES, endEventType } from 'baton-auth';
import type { AuditEvent } from 'baton-auth';
import { createLoginProtection, staticClients } from 'baton-auth/http';
import type { ClientRecord, ClientRegistry } from 'baton-auth/http';
import { CLIENTS, ISSUER, SECRET, USERS, redirectedTo, setup, txnOf } from '../support/authz.ts';
import { dpopKey, dpopProof } from '../support/dpop.ts';
import { makeBaton } from '../support/baton.ts';

/** The static clients, and registration kept beside them. */
function registry(): ClientRegistry {
  const fixed = staticClients(CLIENTS);
  const kept = new Map<string, ClientRecord>();
  return {
    get: async (id) => kept.get(id) ?? fixed.get(id),
    register: async (record) => {
      kept.set(record.id, structuredClone(record));
      return true;
    },
  };
}

interface Pair {
  access_token: string;
  refresh_token: string;
  session_id: string;
}

function world() {
  const events: AuditEvent[] = [];
  const secrets: string[] = [USERS.alice!.password, USERS.bob!.password, SECRET];
  const s = setup(
    {
      clients: registry(),
      authorization: { registration: { maxClients: 10 } },
      loginProtection: createLoginProtection({ failures: { max: 2, blockMs: 60_000 }, failuresPerIp: false }),
    },
    CLIENTS,
    { audit: (e) => events.push(e), maxSessionsPerUser: 3, refreshTokenTtl: '1h', refreshGrace: '10s' },
  );
  const form = (path: string, fields: Record<string, string>, headers: Record<string, string> = {}) =>
    s.call(path, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(fields).toString(),
    });
  const login = async (username: string, password: string): Promise<Response> =>
    s.call('/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
  const pairOf = async (res: Response): Promise<Pair> => {
    expect(res.status).toBe(200);
    const pair = (await res.json()) as Pair;
    secrets.push(pair.access_token, pair.refresh_token, pair.refresh_token.split('.').at(-1) as string, pair.access_token.split('.')[2] as string);
    return pair;
  };
  const refresh = (token: string) => form('/oauth/token', { grant_type: 'refresh_token', refresh_token: token });
  return { ...s, events, secrets, form, login, pairOf, refresh };
}

type World = ReturnType<typeof world>;

/** Logins, refreshes (rotated, grace, reused), evictions, expiry, logout, a token revoked, keys. */
async function tokenEvents(w: World): Promise<Pair> {
  // A DPoP-bound login (RFC 9449): its proof is a secret of the test too.
  const key = await dpopKey();
  const proof = await dpopProof(key, 'POST', `${ISSUER}/auth/login`, { iat: Math.floor(w.clock.now() / 1000), nonce: w.baton.dpopNonce() });
  w.secrets.push(proof, proof.split('.')[2] as string);
  const bound = await w.call('/auth/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json', dpop: proof },
    body: JSON.stringify({ username: 'alice', password: USERS.alice!.password }),
  });
  expect((await w.pairOf(bound)).refresh_token).toBeTruthy();
  const first = await w.pairOf(await w.login('alice', USERS.alice!.password));
  const wrong = 'not-alices-password-9f3a';
  w.secrets.push(wrong);
  expect((await w.login('alice', wrong)).status).toBe(401);
  expect((await w.login('alice', wrong)).status).toBe(429); // the second failure blocks
  expect((await w.login('alice', wrong)).status).toBe(429); // throttled before any check
  const next = await w.pairOf(await w.refresh(first.refresh_token));
  await w.pairOf(await w.refresh(first.refresh_token)); // a grace answer
  w.clock.advance(11_000);
  expect((await w.refresh(first.refresh_token)).status).toBe(400); // reused: the session ends
  expect((await w.refresh(next.refresh_token)).status).toBe(400);
  const bob = await w.pairOf(await w.login('bob', USERS.bob!.password));
  let latest = bob;
  for (let i = 0; i < 3; i++) latest = await w.pairOf(await w.login('bob', USERS.bob!.password)); // the first one evicted
  const idle = await w.pairOf(await w.login('bob', USERS.bob!.password));
  const revoked = await w.form('/oauth/revoke', { token: idle.access_token, token_type_hint: 'access_token' });
  expect(revoked.status).toBe(200);
  expect((await w.call('/auth/logout', { method: 'POST', headers: { authorization: `Bearer ${latest.access_token}` } })).status).toBeLessThan(300);
  expect(bob.session_id).toBeTruthy();
  const { baton } = w;
  const kid = (await baton.rotateKeys('sig')).active;
  await baton.rotateKeys('sig');
  expect(await baton.revokeKey(kid)).toBe(true);
  return w.pairOf(await w.login('alice', USERS.alice!.password).then(async (r) => (r.status === 429 ? w.login('bob', USERS.bob!.password) : r)));
}

/** The code flow: hosted sign-in (failed, then ok), consent (denied, then granted), codes issued, redeemed, refused, replayed; consents revoked; a client registered; a client's secret refused. */
async function authorizationEvents(w: World): Promise<void> {
  const b = w.browser();
  const params = { client_id: 'app', scope: 'profile' }; // no ID token: the ring signs with HS256
  const page = await b.get(w.authorizePath(params));
  const wrong = 'not-bobs-password-71c2';
  w.secrets.push(wrong, w.verifier, w.challenge);
  expect((await b.post('/oauth/authorize/sign-in', { txn: txnOf(await page.text()), username: 'bob', password: wrong })).status).toBe(401);
  const consent = await w.signIn(b, await b.get(w.authorizePath(params)), 'bob');
  redirectedTo(await b.post('/oauth/authorize/consent', { txn: txnOf(await consent.text()), decision: 'deny' }));
  const again = await b.get(w.authorizePath(params));
  const q = redirectedTo(await b.post('/oauth/authorize/consent', { txn: txnOf(await again.text()), decision: 'allow' }));
  const code = q.get('code') as string;
  w.secrets.push(code);
  const redeem = (c: string, verifier = w.verifier) =>
    w.form('/oauth/token', { grant_type: 'authorization_code', code: c, redirect_uri: 'https://app.example/cb', code_verifier: verifier, client_id: 'app' });
  await w.pairOf(await redeem(code));
  expect((await redeem(code)).status).toBe(400); // replayed
  const other = redirectedTo(await b.get(w.authorizePath(params))).get('code') as string;
  w.secrets.push(other);
  expect((await redeem(other, 'a'.repeat(43))).status).toBe(400); // refused: the wrong verifier
  const own = await w.pairOf(await w.login('bob', USERS.bob!.password)); // the code's session ended with its replay
  expect((await w.call('/auth/consents/app', { method: 'DELETE', headers: { authorization: `Bearer ${own.access_token}` } })).status).toBe(200);
  const registered = await w.call('/oauth/register', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ redirect_uris: ['https://notes.example/cb'], client_name: 'Notes' }),
  });
  expect(registered.status).toBe(201);
  w.secrets.push(((await registered.json()) as { client_secret: string }).client_secret);
  const badSecret = 'wrong-secret-of-at-least-32-characters-x';
  w.secrets.push(badSecret);
  expect((await w.form('/oauth/token', { grant_type: 'refresh_token', refresh_token: 'rt_x.0.y', client_id: 'conf', client_secret: badSecret })).status).toBe(
    401,
  );
}

describe('the audit trail', () => {
  it('every kind of event, schema 1, and none of the secrets the test used', async () => {
    const w = world();
    const last = await tokenEvents(w);
    await authorizationEvents(w);
    w.clock.advance(2 * 3_600_000); // past the idle end: told when its token comes
    expect((await w.refresh(last.refresh_token)).status).toBe(400);
    expect((await w.refresh(last.refresh_token)).status).toBe(400); // told once
    // What the service records of its own (users, clients, limits), through the same door.
    const { baton } = w;
    expect((await baton.rotateKeys('sig')).dropped).not.toEqual([]); // keys retired 2 h ago leave the ring
    const more = [
      'client.created',
      'client.changed',
      'client.removed',
      'user.created',
      'user.changed',
      'user.removed',
      'password.changed',
      'scope.changed',
      'limits.reset',
    ];
    for (const type of more)
      baton.audit({ type: type as AuditEvent['type'], username: 'alice', user: 'id-alice', actor: 'cli:root', password: USERS.alice!.password } as never);
    await baton.issueClientToken({ clientId: 'conf' });
    const types = new Set(w.events.map((e) => e.type));
    // `passkey.*` need an authenticator: test/http/passkeys.test.ts drives each through the real handler.
    expect(AUDIT_EVENT_TYPES.filter((t) => !types.has(t) && !t.startsWith('passkey.'))).toEqual([]);
    expect(w.events.filter((e) => e.type === 'session.expired')).toHaveLength(1);
    for (const e of w.events) {
      expect(e.v).toBe(1);
      expect(new Date(e.time).toISOString()).toBe(e.time);
      expect(e.outcome).toMatch(/^(success|failure)$/);
    }
    const text = JSON.stringify(w.events);
    const leaked = w.secrets.filter((secret) => secret.length >= 8 && text.includes(secret));
    expect(leaked).toEqual([]);
    expect(w.secrets.length).toBeGreaterThan(20);
    // Spot checks of what an operator reads.
    expect(w.events.find((e) => e.type === 'login.failed')).toMatchObject({
      outcome: 'failure',
      username: 'alice',
      ip: '203.0.113.7',
      reason: 'bad_credentials',
    });
    expect(w.events.find((e) => e.type === 'login.throttled')).toMatchObject({ outcome: 'failure', username: 'alice' });
    expect(w.events.find((e) => e.type === 'refresh.reused')).toMatchObject({ outcome: 'failure', user: 'id-alice', presented: 0, reason: 'reused' });
    expect(w.events.find((e) => e.type === 'session.revoked' && e.reason === 'reused')).toMatchObject({ user: 'id-alice' });
    expect(w.events.find((e) => e.type === 'session.evicted')).toMatchObject({ user: 'id-bob', reason: 'evicted', by: expect.any(String) });
    expect(w.events.find((e) => e.type === 'session.expired')).toMatchObject({ reason: 'idle_timeout' });
    expect(w.events.find((e) => e.type === 'key.rotated')).toMatchObject({ use: 'sig', previous: 'ed-1', reason: 'rotated' });
    expect(w.events.find((e) => e.type === 'code.replayed')).toMatchObject({ outcome: 'failure', user: 'id-bob', client: 'app', session: expect.any(String) });
    expect(w.events.find((e) => e.type === 'code.refused')).toMatchObject({ reason: 'pkce' });
    expect(w.events.find((e) => e.type === 'client.auth_failed')).toMatchObject({ client: 'conf', reason: 'wrong_secret' });
    expect(w.events.find((e) => e.type === 'user.created')).not.toHaveProperty('password');
  });

  it('a sink that throws breaks no request; without a sink nothing is built', async () => {
    const s = setup({}, CLIENTS, {
      audit: () => {
        throw new Error('disk full');
      },
    });
    const res = await s.call('/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'alice', password: 'correct horse' }),
    });
    expect(res.status).toBe(200);
    const pair = (await res.json()) as Pair;
    const refreshed = await s.call('/oauth/token', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: pair.refresh_token }).toString(),
    });
    expect(refreshed.status).toBe(200);
    expect(() => makeBaton({ audit: 'file.log' as never })).toThrow(/`audit` must be a function/);
  });

  it('a session history entry and an audit event of the same end share their type, by one function', () => {
    expect(['logout', 'kicked', 'reused', 'admin', 'password_changed', 'user removed'].map(endEventType)).toEqual(Array(6).fill('session.revoked'));
    expect(endEventType('evicted')).toBe('session.evicted');
    expect([endEventType('idle_timeout'), endEventType('absolute_timeout')]).toEqual(['session.expired', 'session.expired']);
  });
});
