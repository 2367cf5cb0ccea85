/**
 * Consent for clients that are not first-party: "Allow" and "Deny", remembered per user, client
 * and scope, asked again for a wider scope or `prompt=consent`, CSRF-protected, listed and
 * revocable at `/auth/consents` (which also ends that user's sessions of the client).
 */
import { describe, expect, it } from 'vitest';
import { memoryConsents } from 'baton-auth/http';
import { CB, ISSUER, redirectedTo, setup, txnOf } from '../support/authz.ts';

const APP_REQ = { client_id: 'app', scope: 'openid profile' };

async function toConsent(s: ReturnType<typeof setup>, params: Record<string, string> = APP_REQ) {
  const b = s.browser();
  const page = await s.signIn(b, await b.get(s.authorizePath(params)));
  return { b, page };
}

describe('the consent page', () => {
  it('asks a third-party client with Allow and Deny, the scopes listed; it cannot be framed', async () => {
    const s = setup();
    const { page } = await toConsent(s);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('<strong>Shop &#60;App&#62;</strong> wants to access your account.');
    expect(html).toContain('<li>openid</li><li>profile</li>');
    expect(html).toContain('value="allow">Allow</button>');
    expect(html).toContain('value="deny" class="secondary">Deny</button>');
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(page.headers.get('content-security-policy')).toContain("form-action 'self' https://app.example");
    // The hosted sign-in's session cookie comes with the consent page.
    expect(page.headers.getSetCookie().some((c) => c.startsWith('__Host-baton_as='))).toBe(true);
  });

  it('Deny → access_denied with state and iss; nothing remembered', async () => {
    const s = setup();
    const { b, page } = await toConsent(s);
    const q = redirectedTo(await b.post('/oauth/authorize/consent', { txn: txnOf(await page.text()), decision: 'deny' }));
    expect(q.get('error')).toBe('access_denied');
    expect(q.get('state')).toBe('st-123');
    expect(q.get('iss')).toBe(ISSUER);
    expect((await b.get(s.authorizePath(APP_REQ))).status).toBe(200);
  });

  it('Allow → the code; remembered: the next request is answered at once; a wider scope and prompt=consent ask again', async () => {
    const s = setup();
    const { b, page } = await toConsent(s);
    const q = redirectedTo(await b.post('/oauth/authorize/consent', { txn: txnOf(await page.text()), decision: 'allow' }));
    expect((await s.codeOf(q))?.grant).toMatchObject({ clientId: 'app', userId: 'id-alice', scope: ['openid', 'profile'] });
    expect(redirectedTo(await b.get(s.authorizePath(APP_REQ))).get('code')).toBeTruthy();
    expect(redirectedTo(await b.get(s.authorizePath({ ...APP_REQ, scope: 'profile' }))).get('code')).toBeTruthy();
    const wider = await b.get(s.authorizePath({ ...APP_REQ, scope: 'openid profile orders:read' }));
    expect(wider.status).toBe(200);
    expect(await wider.text()).toContain('Allow');
    expect((await b.get(s.authorizePath({ ...APP_REQ, prompt: 'consent' }))).status).toBe(200);
    expect(redirectedTo(await b.get(s.authorizePath({ ...APP_REQ, prompt: 'none' }))).get('code')).toBeTruthy();
  });

  it('prompt=none without a consent is consent_required', async () => {
    const s = setup();
    const b = s.browser();
    await s.signIn(b, await b.get(s.authorizePath()));
    const q = redirectedTo(await b.get(s.authorizePath({ ...APP_REQ, prompt: 'none' })));
    expect(q.get('error')).toBe('consent_required');
    expect(q.get('iss')).toBe(ISSUER);
  });

  it('first-party clients skip it', async () => {
    const s = setup();
    const b = s.browser();
    expect(redirectedTo(await s.signIn(b, await b.get(s.authorizePath({ client_id: 'first' })))).get('code')).toBeTruthy();
  });

  it('is per user: another user of the browser is asked', async () => {
    const s = setup();
    const { b, page } = await toConsent(s);
    await b.post('/oauth/authorize/consent', { txn: txnOf(await page.text()), decision: 'allow' });
    const other = s.browser();
    const bob = await s.signIn(other, await other.get(s.authorizePath({ ...APP_REQ, scope: 'profile' })), 'bob');
    expect(bob.status).toBe(200);
    expect(await bob.text()).toContain('Allow');
  });
});

describe('the consent form is protected', () => {
  it('from another site, without the CSRF cookie, or in another browser: refused, nothing granted', async () => {
    const s = setup();
    const { b, page } = await toConsent(s);
    const txn = txnOf(await page.text());
    expect((await b.post('/oauth/authorize/consent', { txn, decision: 'allow' }, { origin: 'https://evil.example' })).status).toBe(403);
    const csrf = b.jar.get('__Host-baton_csrf') as string;
    b.jar.delete('__Host-baton_csrf');
    expect((await b.post('/oauth/authorize/consent', { txn, decision: 'allow' })).status).toBe(403);
    // Bob's browser, with his own CSRF cookie and session, posting Alice's consent form.
    const bob = s.browser();
    await s.signIn(bob, await bob.get(s.authorizePath()), 'bob');
    expect((await bob.post('/oauth/authorize/consent', { txn, decision: 'allow' })).status).toBe(403);
    b.jar.set('__Host-baton_csrf', csrf);
    expect((await b.get(s.authorizePath({ ...APP_REQ, prompt: 'none' }))).headers.get('location')).toContain('error=consent_required');
  });

  it('only the user it was shown to answers it', async () => {
    const s = setup();
    const { b, page } = await toConsent(s);
    const txn = txnOf(await page.text());
    await s.baton.revokeUserSessions('id-alice');
    const res = await b.post('/oauth/authorize/consent', { txn, decision: 'allow' });
    expect(res.status).toBe(403);
    expect(res.headers.get('location')).toBeNull();
  });
});

describe('/auth/consents', () => {
  async function withConsent() {
    const s = setup();
    const { b, page } = await toConsent(s);
    await b.post('/oauth/authorize/consent', { txn: txnOf(await page.text()), decision: 'allow' });
    const login = await s.call('/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'alice', password: 'correct horse' }),
    });
    const { access_token } = (await login.json()) as { access_token: string };
    return { ...s, b, auth: { authorization: `Bearer ${access_token}` } };
  }

  it('lists the user consents with the client name', async () => {
    const s = await withConsent();
    const res = await s.call('/auth/consents', { headers: s.auth });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ consents: [{ client_id: 'app', client_name: 'Shop <App>', scope: 'openid profile', at: s.clock.ms }] });
    expect((await s.call('/auth/consents')).status).toBe(401);
  });

  it('revoking one forgets it and ends that user sessions of that client, not the others', async () => {
    const s = await withConsent();
    const appSession = await s.baton.login('id-alice', { clientId: 'app' });
    const res = await s.call('/auth/consents/app', { method: 'DELETE', headers: s.auth });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ revoked_sessions: [appSession.session_id] });
    const left = await s.baton.listSessions('id-alice');
    expect(left.map((x) => x.clientId)).not.toContain('app');
    expect(left.length).toBeGreaterThan(0);
    expect(await (await s.call('/auth/consents', { headers: s.auth })).json()).toEqual({ consents: [] });
    expect((await s.b.get(s.authorizePath(APP_REQ))).status).toBe(200); // asked again
    expect((await s.call('/auth/consents/app', { method: 'DELETE', headers: s.auth })).status).toBe(404);
  });
});

describe('memoryConsents', () => {
  it('is bounded per user: past the bound the oldest is forgotten (asked again), newest listed first', async () => {
    const store = memoryConsents({ maxPerUser: 3 });
    for (let i = 0; i < 5; i++) await store.put('u', `c${i}`, ['a'], i);
    expect((await store.list('u')).map((x) => x.clientId)).toEqual(['c4', 'c3', 'c2']);
    expect(await store.get('u', 'c0')).toBeNull();
    await store.put('u', 'c2', ['a', 'b'], 9);
    expect((await store.list('u')).map((x) => x.clientId)).toEqual(['c2', 'c4', 'c3']);
    expect(await store.get('u', 'c2')).toEqual({ scope: ['a', 'b'], at: 9 });
    expect(await store.delete('u', 'c2')).toBe(true);
    expect(await store.delete('u', 'c2')).toBe(false);
  });

  it('is bounded in users', async () => {
    const store = memoryConsents({ maxUsers: 2 });
    for (const u of ['a', 'b', 'c']) await store.put(u, 'x', [], 1);
    expect(await store.get('a', 'x')).toBeNull();
    expect(await store.get('c', 'x')).not.toBeNull();
  });
});

describe('what a consent covers', () => {
  const API = 'https://api.example';
  const OTHER_API = 'https://billing.example';

  it('the APIs (RFC 8707 resources) too: the page names them, and a new one asks again', async () => {
    const s = setup({ resources: [API, OTHER_API] });
    const { b, page } = await toConsent(s, { ...APP_REQ, resource: API });
    const html = await page.text();
    expect(html).toContain(`<li>${API}</li>`);
    const q = redirectedTo(await b.post('/oauth/authorize/consent', { txn: txnOf(html), decision: 'allow' }));
    expect((await s.codeOf(q))?.grant.resource).toEqual([API]);
    expect(redirectedTo(await b.get(s.authorizePath({ ...APP_REQ, resource: API }))).get('code')).toBeTruthy();
    const other = await b.get(s.authorizePath({ ...APP_REQ, resource: OTHER_API }));
    expect(other.status).toBe(200);
    expect(await other.text()).toContain(`<li>${OTHER_API}</li>`);
    expect(redirectedTo(await b.get(s.authorizePath({ ...APP_REQ, resource: OTHER_API, prompt: 'none' }))).get('error')).toBe('consent_required');
  });

  it('known limit: scopes and APIs are remembered as two sets — a scope allowed with one API counts with another the user allowed (SECURITY.md)', async () => {
    const s = setup({ resources: [API, OTHER_API] });
    const allow = async (b: ReturnType<typeof s.browser>, page: Response) =>
      redirectedTo(await b.post('/oauth/authorize/consent', { txn: txnOf(await page.text()), decision: 'allow' }));
    const { b, page } = await toConsent(s, { client_id: 'app', scope: 'profile', resource: OTHER_API });
    await allow(b, page);
    await allow(b, await b.get(s.authorizePath({ client_id: 'app', scope: 'orders:read', resource: API })));
    // orders:read was only ever asked with API; with OTHER_API it is answered without a page.
    const q = redirectedTo(await b.get(s.authorizePath({ client_id: 'app', scope: 'orders:read', resource: OTHER_API })));
    expect((await s.codeOf(q))?.grant).toMatchObject({ scope: ['orders:read'], resource: [OTHER_API] });
  });

  it('a code issued before the user withdrew consent is not redeemed after it (invalid_grant); one issued after a new Allow is', async () => {
    const s = setup();
    const REQ = { client_id: 'app', scope: 'profile' };
    const { b, page } = await toConsent(s, REQ);
    const q = redirectedTo(await b.post('/oauth/authorize/consent', { txn: txnOf(await page.text()), decision: 'allow' }));
    const redeem = (code: string) =>
      s.call('/oauth/token', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: CB, code_verifier: s.verifier, client_id: 'app' }).toString(),
      });
    const login = await s.call('/auth/login', { method: 'POST', body: new URLSearchParams({ username: 'alice', password: 'correct horse' }) });
    const { access_token } = (await login.json()) as { access_token: string };
    expect((await s.call('/auth/consents/app', { method: 'DELETE', headers: { authorization: `Bearer ${access_token}` } })).status).toBe(200);
    const late = await redeem(q.get('code') as string);
    expect(late.status).toBe(400);
    expect(await late.json()).toMatchObject({ error: 'invalid_grant' });
    expect(s.logs.some((l) => l.includes('withdrew consent'))).toBe(true);
    // Allowed again: a new code redeems.
    const again = await b.get(s.authorizePath(REQ));
    const q2 = redirectedTo(await b.post('/oauth/authorize/consent', { txn: txnOf(await again.text()), decision: 'allow' }));
    expect((await redeem(q2.get('code') as string)).status).toBe(200);
  });
});
