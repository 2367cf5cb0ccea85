/**
 * No token, refresh token, DPoP proof, code, password or client secret in any span: a whole flow
 * through the handler — logins (right and wrong), a refresh, a retry within the grace window, a
 * reuse, DPoP (nonce, bound login, refresh, the DPoP scheme), the authorization code flow with
 * PKCE (a public client with consent and an ID token, a confidential client with its secret),
 * introspection, revocation, and errors (junk and expired tokens, a token pasted into a path or a
 * query, wrong secrets) — and every exported span's name, attributes, events, links and status
 * scanned for each of those values and each long part of them.
 */
import { describe, expect, it } from 'vitest';
import { generateKey } from 'baton-auth';
import { CB, CLIENTS, ISSUER, redirectedTo, SECRET, setup, txnOf } from '../support/authz.ts';
import { dpopKey, dpopProof } from '../support/dpop.ts';
import type { DpopKey } from '../support/dpop.ts';
import { exported, recordSpans } from '../support/traces.ts';

const { spans } = recordSpans();

const RS_SECRET = 'rs-secret-of-at-least-32-characters!';
const basic = (id: string, secret: string) => ({ authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}` });

/** Every value the flow used that must never reach a span. */
class Secrets {
  readonly values = new Set<string>();

  /** `value`, and each part of it between dots or colons long enough to be a secret on its own (a JWS's signature, a refresh token's MAC). */
  add(...values: (string | undefined | null)[]): void {
    for (const value of values) {
      if (typeof value !== 'string' || value.length === 0) continue;
      this.values.add(value);
      for (const part of value.split(/[.:]/)) if (part.length >= 16) this.values.add(part);
    }
  }

  /** The token members of a token response. */
  async fromResponse(res: Response): Promise<Record<string, string>> {
    const body = (await res.clone().json()) as Record<string, string>;
    this.add(body.access_token, body.refresh_token, body.id_token);
    return body;
  }
}

type Flow = ReturnType<typeof setup> & { secrets: Secrets };

function post(s: Flow, path: string, fields: Record<string, string>, headers: Record<string, string> = {}) {
  return s.call(path, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(fields).toString(),
  });
}

/** Logins, refreshes, a reuse, introspection, revocation, and the errors around them. */
async function passwordsAndRefresh(s: Flow): Promise<void> {
  const { secrets } = s;
  secrets.add('correct horse', 'wrong horse battery', SECRET, RS_SECRET);
  expect((await post(s, '/auth/login', { username: 'alice', password: 'wrong horse battery' })).status).toBe(401);
  const pair = await secrets.fromResponse(await post(s, '/auth/login', { username: 'alice', password: 'correct horse' }));
  const me = (token: string, path = '/auth/me') => s.call(path, { headers: { authorization: `Bearer ${token}` } });
  expect((await me(pair.access_token as string)).status).toBe(200);
  const next = await secrets.fromResponse(await post(s, '/oauth/token', { grant_type: 'refresh_token', refresh_token: pair.refresh_token as string }));
  await secrets.fromResponse(await post(s, '/oauth/token', { grant_type: 'refresh_token', refresh_token: pair.refresh_token as string })); // grace
  expect((await post(s, '/oauth/introspect', { token: next.access_token as string }, basic('rs', RS_SECRET))).status).toBe(200);
  expect((await post(s, '/oauth/introspect', { token: next.access_token as string }, basic('rs', `${RS_SECRET}x`))).status).toBe(401);
  expect((await post(s, '/oauth/introspect', { token: next.refresh_token as string }, basic('rs', RS_SECRET))).status).toBe(200);
  s.clock.advance(60_000);
  expect((await post(s, '/oauth/token', { grant_type: 'refresh_token', refresh_token: pair.refresh_token as string })).status).toBe(400); // reuse
  // Errors around tokens: junk, a token pasted into a path or a query, a revoked one.
  const junk = 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJzZWNyZXQtanVuay10b2tlbiJ9.c2lnbmF0dXJlLW9mLWp1bmstdG9rZW4';
  secrets.add(junk);
  expect((await me(junk)).status).toBe(401);
  expect((await me(next.access_token as string, `/auth/sessions/${next.access_token}`)).status).toBeGreaterThanOrEqual(400);
  expect((await s.call(`/oauth/${next.refresh_token}?access_token=${next.access_token}`)).status).toBe(404);
  const again = await secrets.fromResponse(await post(s, '/auth/login', { username: 'bob', password: 'battery staple' }));
  secrets.add('battery staple');
  expect((await post(s, '/oauth/revoke', { token: again.access_token as string })).status).toBe(200);
  expect((await post(s, '/oauth/revoke', { token: again.refresh_token as string })).status).toBe(200);
  expect((await me(again.access_token as string)).status).toBe(401);
  s.clock.advance(3_600_000);
  expect((await me(next.access_token as string)).status).toBe(401); // expired
}

/** DPoP: the nonce round, a bound login, its refresh, the DPoP scheme at a resource. */
async function dpop(s: Flow): Promise<void> {
  const key: DpopKey = await dpopKey();
  let nonce: string | undefined;
  const proof = async (method: string, url: string, accessToken?: string) => {
    const p = await dpopProof(key, method, url, {
      iat: Math.floor(s.clock.now() / 1000),
      ...(nonce === undefined ? {} : { nonce }),
      ...(accessToken === undefined ? {} : { accessToken }),
    });
    s.secrets.add(p);
    return p;
  };
  const withProof = async (path: string, fields: Record<string, string>) => {
    let res = await post(s, path, fields, { dpop: await proof('POST', `${ISSUER}${path}`) });
    if (res.status === 400 && res.headers.get('dpop-nonce') !== null) {
      nonce = res.headers.get('dpop-nonce') as string;
      res = await post(s, path, fields, { dpop: await proof('POST', `${ISSUER}${path}`) });
    }
    nonce = res.headers.get('dpop-nonce') ?? nonce;
    expect(res.status).toBe(200);
    return s.secrets.fromResponse(res);
  };
  const pair = await withProof('/auth/login', { username: 'alice', password: 'correct horse' });
  const next = await withProof('/oauth/token', { grant_type: 'refresh_token', refresh_token: pair.refresh_token as string });
  const me = await s.call('/auth/me', {
    headers: { authorization: `DPoP ${next.access_token}`, dpop: await proof('GET', `${ISSUER}/auth/me`, next.access_token) },
  });
  expect(me.status).toBe(200);
  // A copied bound refresh token without its proof.
  expect((await post(s, '/oauth/token', { grant_type: 'refresh_token', refresh_token: next.refresh_token as string })).status).toBe(400);
}

/** The code flow: a public client with consent and an ID token; a confidential one with its secret; a code spent twice. */
async function codeFlow(s: Flow): Promise<void> {
  const { secrets } = s;
  secrets.add(s.verifier);
  const exchange = (code: string, clientId: string, headers: Record<string, string> = {}) =>
    post(s, '/oauth/token', { grant_type: 'authorization_code', code, redirect_uri: CB, code_verifier: s.verifier, client_id: clientId }, headers);
  const b = s.browser();
  const consent = await s.signIn(b, await b.get(s.authorizePath({ client_id: 'app', scope: 'openid orders:read', nonce: 'n-42' })));
  const q = redirectedTo(await b.post('/oauth/authorize/consent', { txn: txnOf(await consent.text()), decision: 'allow' }));
  const code = q.get('code') as string;
  secrets.add(code);
  const res = await exchange(code, 'app');
  expect(res.status).toBe(200);
  const tokens = await secrets.fromResponse(res);
  expect((await s.call('/oauth/userinfo', { headers: { authorization: `Bearer ${tokens.access_token}` } })).status).toBe(200);
  expect((await exchange(code, 'app')).status).toBe(400); // spent
  const c = s.browser();
  const q2 = redirectedTo(await s.signIn(c, await c.get(s.authorizePath({ client_id: 'conf', scope: undefined }))));
  const code2 = q2.get('code') as string;
  secrets.add(code2);
  expect((await exchange(code2, 'conf', basic('conf', `${SECRET}-wrong`))).status).toBe(401);
  const res2 = await exchange(code2, 'conf', basic('conf', SECRET));
  expect(res2.status).toBe(200);
  await secrets.fromResponse(res2);
}

describe('no secret in any span', () => {
  it('a whole flow, every exported span scanned', async () => {
    const s: Flow = Object.assign(setup({}, [...CLIENTS, { id: 'rs', secret: RS_SECRET, introspect: true }], { keys: [generateKey('EdDSA', 'ed-1')] }), {
      secrets: new Secrets(),
    });
    await passwordsAndRefresh(s);
    await dpop(s);
    await codeFlow(s);
    const all = spans();
    expect(all.length).toBeGreaterThan(60);
    const text = all.map(exported);
    // The scan reads what a span carries: the session ids and the routes are there.
    expect(text.join('\n')).toContain('"baton.session.id"');
    expect(text.join('\n')).toContain('/oauth/authorize/consent');
    expect(s.secrets.values.size).toBeGreaterThan(40);
    const leaks = [...s.secrets.values].flatMap((secret) => text.filter((t) => t.includes(secret)).map((t) => `${secret.slice(0, 12)}… in ${t.slice(0, 200)}`));
    expect(leaks).toEqual([]);
  });
});
