/**
 * Red team (authz2): what held, of the changes after the first two authorization red teams —
 * consent covering RFC 8707 resources, `/auth/login` refusing third-party clients, UserInfo CORS
 * for a public client's redirect-URI origin, and the client SDK's printed sign-in URL.
 * Breaks found are in authz2-consent-withdrawal-race, authz2-hs256-unscoped and authz2-theme-bracket.
 */
import { describe, expect, it } from 'vitest';
import { memoryStore } from 'baton-auth/stores/memory';
import { createTokenClient } from 'baton-auth-client';
import { showAndOpen, signInWithBrowser } from 'baton-auth-client/node';
import { consentKind, storeConsents } from '../../packages/baton-auth-server/src/server/consents.ts';
import { APP, CB, redirectedTo, setup, txnOf } from '../support/authz.ts';
import type { Browser } from '../support/authz.ts';

const API1 = 'https://api1.example';
const API2 = 'https://api2.example';
const form = (fields: Record<string, string>, headers: Record<string, string> = {}): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
  body: new URLSearchParams(fields).toString(),
});
type S = ReturnType<typeof setup>;

/** The third-party client `app` through sign-in and its consent page (Allow): the code's answer. */
async function allowApp(s: S, b: Browser, params: Record<string, string | undefined>): Promise<URLSearchParams> {
  let page = await b.get(s.authorizePath({ client_id: 'app', ...params }));
  if ((await page.clone().text()).includes('name="password"')) page = await s.signIn(b, page);
  expect(page.status).toBe(200);
  const html = await page.text();
  expect(html).toContain('Allow access?');
  return redirectedTo(await b.post('/oauth/authorize/consent', { txn: txnOf(html), decision: 'allow' }));
}
const redeem = (s: S, code: string, extra: Record<string, string> = {}) =>
  s.call('/oauth/token', form({ grant_type: 'authorization_code', code, redirect_uri: CB, code_verifier: s.verifier, client_id: 'app', ...extra }));
const withResources = () => setup({ resources: [API1, API2] });

describe('consent and RFC 8707 resources (held)', () => {
  it('a code for API1 gets no token for API2, nor does its refresh', async () => {
    const s = withResources();
    const code = (await allowApp(s, s.browser(), { scope: 'profile', resource: API1 })).get('code') as string;
    const other = await redeem(s, code, { resource: API2 });
    expect(other.status).toBe(400);
    expect(((await other.json()) as { error: string }).error).toBe('invalid_target');
    const ok = await redeem(s, code, { resource: API1 });
    expect(ok.status).toBe(200);
    const { refresh_token } = (await ok.json()) as { refresh_token: string };
    const refreshed = await s.call('/oauth/token', form({ grant_type: 'refresh_token', refresh_token, client_id: 'app', resource: API2 }));
    expect(refreshed.status).toBe(400);
    expect(((await refreshed.json()) as { error: string }).error).toBe('invalid_target');
  });

  it('a consent to API1 does not answer for API2: the page asks again and names it; PAR the same', async () => {
    const s = withResources();
    const b = s.browser();
    await allowApp(s, b, { scope: 'profile', resource: API1 });
    // Same scope, API1 again: remembered (assured https client), a code at once.
    expect(redirectedTo(await b.get(s.authorizePath({ client_id: 'app', scope: 'profile', resource: API1 }))).get('code')).toBeTruthy();
    const again = await b.get(s.authorizePath({ client_id: 'app', scope: 'profile', resource: API2 }));
    expect(again.status).toBe(200);
    expect(await again.text()).toContain(API2);
    const pushed = await s.call(
      '/oauth/par',
      form({
        client_id: 'app',
        redirect_uri: CB,
        response_type: 'code',
        code_challenge: s.challenge,
        code_challenge_method: 'S256',
        scope: 'profile',
        resource: API2,
      }),
    );
    expect(pushed.status).toBe(201);
    const { request_uri } = (await pushed.json()) as { request_uri: string };
    const viaPar = await b.get(`/oauth/authorize?${new URLSearchParams({ client_id: 'app', request_uri })}`);
    expect(viaPar.status).toBe(200);
    expect(await viaPar.text()).toContain('Allow access?');
  });

  it("a consent kept by the service's store before resources existed (no resource member) covers no API", async () => {
    const store = memoryStore();
    await store.putRecord(consentKind('id-alice'), 'app', JSON.stringify({ scope: ['openid', 'profile'], at: 1 }));
    const s = setup({ resources: [API1], authorization: { consents: storeConsents(store) } });
    const b = s.browser();
    const page = await s.signIn(b, await b.get(s.authorizePath({ client_id: 'app', scope: 'profile', resource: API1 })));
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('Allow access?');
    // Without a resource, the old consent still answers.
    expect(redirectedTo(await b.get(s.authorizePath({ client_id: 'app', scope: 'profile' }))).get('code')).toBeTruthy();
  });

  it('Deny: access_denied to the client, nothing remembered, the next request asks again', async () => {
    const s = withResources();
    const b = s.browser();
    const page = await s.signIn(b, await b.get(s.authorizePath({ client_id: 'app', scope: 'profile', resource: API1 })));
    const q = redirectedTo(await b.post('/oauth/authorize/consent', { txn: txnOf(await page.text()), decision: 'deny' }));
    expect([q.get('error'), q.get('code')]).toEqual(['access_denied', null]);
    const next = await b.get(s.authorizePath({ client_id: 'app', scope: 'profile', resource: API1 }));
    expect(next.status).toBe(200);
    expect(await next.text()).toContain('Allow access?');
  });
});

describe('/auth/login and third-party clients (held)', () => {
  const password = (fields: Record<string, string>, s: S) => s.call('/auth/login', form({ username: 'alice', password: 'correct horse', ...fields }));

  it('the third-party client, its id in another case or with spaces, and its refresh token under another client: no token', async () => {
    const s = setup();
    expect(((await (await password({ client_id: 'app' }, s)).json()) as { error: string }).error).toBe('unauthorized_client');
    for (const id of ['APP', 'App', ' app', 'app ', 'app%20', 'app\u0000']) expect((await password({ client_id: id }, s)).status).toBe(401);
    // The third party's own refresh token, presented by the default client (which may use /auth/login): refused.
    const code = (await allowApp(s, s.browser(), { scope: 'profile' })).get('code') as string;
    const { refresh_token } = (await (await redeem(s, code)).json()) as { refresh_token: string };
    for (const fields of [{}, { client_id: 'default' }, { client_id: 'first' }]) {
      const r = await s.call('/oauth/token', form({ grant_type: 'refresh_token', refresh_token, ...fields }));
      expect(r.status).toBe(400);
      expect(((await r.json()) as { error: string }).error).toBe('invalid_grant');
    }
  });
});

describe('UserInfo from a client page (held)', () => {
  it("another origin reads nothing; the client's own gets no credentials; a confidential client's origin is refused", async () => {
    const s = setup();
    const code = (await allowApp(s, s.browser(), { scope: 'openid profile' })).get('code') as string;
    const { access_token } = (await (await redeem(s, code)).json()) as { access_token: string };
    const ask = (origin: string, token = access_token) => s.call('/oauth/userinfo', { headers: { authorization: `Bearer ${token}`, origin, cookie: 'x=1' } });
    for (const origin of ['https://evil.example', 'https://app.example.evil', 'http://app.example', 'https://app.example:444', 'null']) {
      const r = await ask(origin);
      expect(r.status, origin).toBe(403);
      expect(r.headers.get('access-control-allow-origin'), origin).toBeNull();
    }
    const mine = await ask(APP);
    expect(mine.status).toBe(200);
    expect(mine.headers.get('access-control-allow-origin')).toBe(APP);
    expect(mine.headers.get('access-control-allow-credentials')).toBeNull();
    // A preflight from any https origin is answered (the body names the client), never with credentials.
    const pre = await s.call('/oauth/userinfo', { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' } });
    expect(pre.headers.get('access-control-allow-credentials')).toBeNull();
    // The confidential client `conf` shares the redirect origin: its token is not read there.
    const login = await s.call('/auth/login', form({ username: 'alice', password: 'correct horse', client_id: 'default', scope: 'profile' }));
    const own = ((await login.json()) as { access_token: string }).access_token;
    const r = await ask(APP, own);
    expect(r.status).toBe(403);
    expect(r.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe("the client SDK's printed sign-in URL (held)", () => {
  it('a hostile authorization endpoint puts no terminal control character on stderr, nor any secret', async () => {
    const issuer = 'https://evil.example';
    const hostile = `${issuer}/auth\u001b]0;pwned\u0007\u001b[2J\u009b31m\u202e?x=\u001b[1m#\u001bc`;
    const stub: typeof fetch = async (input) => {
      const url = String(input);
      if (url.includes('/.well-known/'))
        return Response.json({ issuer, token_endpoint: `${issuer}/token`, authorization_endpoint: hostile, response_types_supported: ['code'] });
      return new Response('{}', { status: 500 });
    };
    const secret = 'client-secret-that-must-never-be-printed-0123456789';
    const client = createTokenClient({ issuer, clientId: 'cli\u001b[31m', fetch: stub, clientAuthentication: { secret } } as Parameters<
      typeof createTokenClient
    >[0]);
    const lines: string[] = [];
    const signIn = signInWithBrowser(client, {
      scope: 'openid',
      timeoutMs: 1500,
      open: (u) =>
        showAndOpen(u, {
          write: (l) => lines.push(l),
          open: async () => {
            throw new Error('no browser \u001b[2J here');
          },
        }),
    });
    await expect(signIn).rejects.toMatchObject({ code: 'ERR_SIGN_IN_TIMEOUT' });
    const printed = lines.slice(0, 1).join('');
    console.info(`[authz2-held] printed: ${JSON.stringify(printed)}`);
    // eslint-disable-next-line no-control-regex
    expect(printed.replace(/\n/g, '')).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/);
    expect(printed).not.toContain(secret);
    const url = new URL(printed.split('\n')[1]?.trim() ?? '');
    // The challenge, never the verifier (RFC 7636 §4.2); no client secret; the hostile URL's own query kept, encoded.
    const names = [...url.searchParams.keys()];
    expect(names).toEqual(expect.arrayContaining(['client_id', 'code_challenge', 'state', 'nonce', 'redirect_uri']));
    expect(names.filter((n) => /verifier|secret|assertion/.test(n))).toEqual([]);
  });
});
