/**
 * `/oauth/end-session` (OpenID Connect RP-Initiated Logout 1.0), driven as a browser drives it:
 * the hosted sign-in sets the authorization-server cookie, then the client sends the browser to
 * end-session. An unregistered post_logout_redirect_uri is never a Location; the confirmation form
 * is CSRF-protected; another user's hint revokes nothing of theirs; signing out clears the cookie
 * and revokes the session.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { idToken } from '../../packages/baton-auth/src/authz/id-token.ts';
import { idTokenKey, signIdToken } from '../../packages/baton-auth/src/core/id-token.ts';
import { codeOf } from '../support/baton.ts';
import { hostedSignIn, oidcSetup, setCookie } from '../support/oidc.ts';

const ORIGIN = 'https://auth.test';

/** Alice signed in on the hosted page, and the client `web`'s session of her (with its ID token). */
async function signedIn(user: 'alice' | 'bob' = 'alice') {
  const s = oidcSetup('EdDSA');
  const browser = await hostedSignIn(s, user);
  const rp = await s.baton.login(`id-${user}`, { clientId: 'web', scope: 'openid profile' });
  const hint = await idToken(s.context, { userId: `id-${user}`, clientId: 'web', authTime: 1, sid: rp.session_id, scope: ['openid'] });
  return { ...s, browser, rp, hint };
}

const sessionIds = async (s: { baton: { listSessions(u: string): Promise<{ id: string; clientId: string }[]> } }, userId: string) =>
  (await s.baton.listSessions(userId)).map((x) => `${x.clientId}:${x.id}`);

/** The confirmation page's sealed form value. */
const sealedOf = (html: string): string => /name="logout" value="([^"]+)"/.exec(html)?.[1] ?? '';

function confirmInit(cookie: string, logout: string, origin = ORIGIN): RequestInit {
  return { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', origin, cookie }, body: new URLSearchParams({ logout }).toString() };
}

describe('RP-initiated logout with the ID token of the browser’s user', () => {
  it('signs out at once: both sessions revoked, the cookie cleared, a 303 to the registered URI with state', async () => {
    const s = await signedIn();
    expect(await sessionIds(s, 'id-alice')).toHaveLength(2); // the hosted sign-in's and the client's
    const q = new URLSearchParams({ id_token_hint: s.hint, post_logout_redirect_uri: 'https://app.test/bye', state: 'st&te=1' });
    const res = await s.call(`/oauth/end-session?${q}`, { headers: { cookie: s.browser.cookie } });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('https://app.test/bye?state=st%26te%3D1');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(setCookie(res, '__Host-baton_as')).toMatch(/^__Host-baton_as=; Path=\/; HttpOnly; SameSite=Lax; Secure; Max-Age=0$/);
    expect(await sessionIds(s, 'id-alice')).toEqual([]);
    expect(await codeOf(s.baton.verify(s.rp.access_token))).toBe('ERR_SESSION_REVOKED');
    // The old cookie no longer names a signed-in user: the same request now asks.
    const again = await s.call(`/oauth/end-session?${q}`, { headers: { cookie: s.browser.cookie } });
    expect(again.status).toBe(200);
    expect(await again.text()).toContain('Sign out?');
  });

  it('a registered URI with a query keeps it; POST works like GET; without post_logout_redirect_uri the page says "You are signed out"', async () => {
    const s = await signedIn();
    const post = await s.call('/oauth/end-session', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: s.browser.cookie, origin: 'https://app.test' },
      body: new URLSearchParams({ id_token_hint: s.hint, post_logout_redirect_uri: 'https://app.test/bye?from=idp', state: 'x' }).toString(),
    });
    expect(post.status).toBe(303);
    expect(post.headers.get('location')).toBe('https://app.test/bye?from=idp&state=x');
    const t = await signedIn();
    const page = await t.call(`/oauth/end-session?id_token_hint=${t.hint}`, { headers: { cookie: t.browser.cookie } });
    expect(page.status).toBe(200);
    expect(page.headers.get('location')).toBeNull();
    expect(await page.text()).toContain('You are signed out');
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(await sessionIds(t, 'id-alice')).toEqual([]);
  });

  it('an expired ID token is a valid hint (RP-Initiated Logout §2)', async () => {
    const s = await signedIn();
    const now = Math.floor(s.baton.now() / 1000);
    const claims = { iss: s.issuer, sub: 'id-alice', aud: 'web', iat: now - 7200, exp: now - 3600, auth_time: now - 7200, sid: s.rp.session_id };
    const expired = signIdToken(claims, idTokenKey(s.baton.keys));
    const res = await s.call(`/oauth/end-session?id_token_hint=${expired}&post_logout_redirect_uri=https://app.test/bye`, {
      headers: { cookie: s.browser.cookie },
    });
    expect(res.status).toBe(303);
    expect(await sessionIds(s, 'id-alice')).toEqual([]);
  });
});

describe('post_logout_redirect_uri: only a registered one, exactly, of the identified client, is ever a Location', () => {
  const hostile = [
    'https://evil.test/bye',
    'https://app.test/bye/',
    'https://app.test/bye?',
    'https://app.test/bye#x',
    'https://app.test/Bye',
    'HTTPS://app.test/bye',
    'https://app.test:443/bye',
    'https://app.test/bye?from=idp&x=1',
    'https://app.test.evil.test/bye',
    'https://app.test@evil.test/bye',
    '//evil.test/bye',
    'javascript:alert(1)',
    'https://other.test/bye', // registered, but for another client
  ];
  it.each(hostile)('%s: no redirect, the "signed out" page', async (uri) => {
    const s = await signedIn();
    const q = new URLSearchParams({ id_token_hint: s.hint, post_logout_redirect_uri: uri, state: 's' });
    const res = await s.call(`/oauth/end-session?${q}`, { headers: { cookie: s.browser.cookie } });
    expect(res.status).toBe(200);
    expect(res.headers.get('location')).toBeNull();
    const html = await res.text();
    expect(html).toContain('You are signed out');
    expect(html).not.toContain('evil');
    expect(res.headers.get('content-security-policy')).not.toContain('evil');
  });

  it('without a client (no hint, no client_id) even a registered URI is not followed; with client_id it is, after the confirmation', async () => {
    const s = await signedIn();
    const bare = await s.call('/oauth/end-session?post_logout_redirect_uri=https://app.test/bye', { headers: { cookie: s.browser.cookie } });
    expect(bare.status).toBe(200);
    const done = await s.call('/oauth/end-session/confirm', confirmInit(s.browser.cookie, sealedOf(await bare.text())));
    expect(done.status).toBe(200);
    expect(done.headers.get('location')).toBeNull();
    const t = await signedIn();
    const named = await t.call('/oauth/end-session?client_id=web&post_logout_redirect_uri=https://app.test/bye&state=z', {
      headers: { cookie: t.browser.cookie },
    });
    expect(named.headers.get('content-security-policy')).toContain("form-action 'self' https://app.test");
    const html = await named.text();
    expect(html).toContain('The App');
    const ok = await t.call('/oauth/end-session/confirm', confirmInit(t.browser.cookie, sealedOf(html)));
    expect(ok.status).toBe(303);
    expect(ok.headers.get('location')).toBe('https://app.test/bye?state=z');
  });

  it('a client_id other than the hint’s audience, or an unknown one: an error page, nothing revoked', async () => {
    const s = await signedIn();
    for (const q of [`id_token_hint=${s.hint}&client_id=other`, 'client_id=nobody']) {
      const res = await s.call(`/oauth/end-session?${q}&post_logout_redirect_uri=https://other.test/bye`, { headers: { cookie: s.browser.cookie } });
      expect(res.status).toBe(400);
      expect(res.headers.get('location')).toBeNull();
    }
    expect(await sessionIds(s, 'id-alice')).toHaveLength(2);
  });
});

describe('the confirmation', () => {
  it('without a hint: asked, and signed out only by the form posted from this site with this browser’s CSRF cookie', async () => {
    const s = await signedIn();
    const page = await s.call('/oauth/end-session', { headers: { cookie: s.browser.cookie } });
    expect(page.status).toBe(200);
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(page.headers.get('cache-control')).toBe('no-store');
    const html = await page.text();
    expect(html).toContain('Sign out?');
    const sealed = sealedOf(html);
    expect(await sessionIds(s, 'id-alice')).toHaveLength(2); // asking changes nothing
    // Another site's post, a post without the CSRF cookie, another browser's cookie, a forged form: refused.
    expect((await s.call('/oauth/end-session/confirm', confirmInit(s.browser.cookie, sealed, 'https://evil.test'))).status).toBe(403);
    expect((await s.call('/oauth/end-session/confirm', confirmInit(s.browser.as, sealed))).status).toBe(403);
    const other = await hostedSignIn(s, 'bob');
    expect((await s.call('/oauth/end-session/confirm', confirmInit(`${other.csrf}; ${s.browser.as}`, sealed))).status).toBe(403);
    expect((await s.call('/oauth/end-session/confirm', confirmInit(s.browser.cookie, `${sealed.slice(0, -2)}AA`))).status).toBe(400);
    const noOrigin = { ...confirmInit(s.browser.cookie, sealed), headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: s.browser.cookie } };
    expect((await s.call('/oauth/end-session/confirm', noOrigin)).status).toBe(403);
    expect(await sessionIds(s, 'id-alice')).toHaveLength(2);
    const ok = await s.call('/oauth/end-session/confirm', confirmInit(s.browser.cookie, sealed));
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('You are signed out');
    expect(setCookie(ok, '__Host-baton_as')).toContain('Max-Age=0');
    // The hosted sign-in's session ended; the client's session stays (no hint named it).
    expect((await sessionIds(s, 'id-alice')).map((x) => x.split(':')[0])).toEqual(['web']);
  });

  it('another user’s hint: asked, and signing out ends this browser’s session, never the other user’s', async () => {
    const s = await signedIn('alice');
    const bob = await s.baton.login('id-bob', { clientId: 'web', scope: 'openid' });
    const bobHint = await idToken(s.context, { userId: 'id-bob', clientId: 'web', authTime: 1, sid: bob.session_id, scope: ['openid'] });
    const page = await s.call(`/oauth/end-session?id_token_hint=${bobHint}&post_logout_redirect_uri=https://app.test/bye`, {
      headers: { cookie: s.browser.cookie },
    });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('Sign out?');
    const ok = await s.call('/oauth/end-session/confirm', confirmInit(s.browser.cookie, sealedOf(html)));
    expect(ok.status).toBe(303);
    expect(await sessionIds(s, 'id-bob')).toEqual([`web:${bob.session_id}`]);
    expect(await s.baton.verify(bob.access_token)).toMatchObject({ sub: 'id-bob' });
    expect((await sessionIds(s, 'id-alice')).map((x) => x.split(':')[0])).toEqual(['web']); // alice's hosted session ended
  });

  it('a hint not signed here (another issuer’s key, a changed payload) counts as none: asked', async () => {
    const s = await signedIn();
    const elsewhere = await signedIn();
    const [h, , sig] = s.hint.split('.') as [string, string, string];
    const changed = `${h}.${Buffer.from(JSON.stringify({ iss: s.issuer, sub: 'id-alice', aud: 'web', sid: 'x', exp: 1, iat: 1 })).toString('base64url')}.${sig}`;
    for (const hint of [elsewhere.hint, changed, 'not-a-jwt']) {
      const res = await s.call(`/oauth/end-session?id_token_hint=${hint}`, { headers: { cookie: s.browser.cookie } });
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('Sign out?');
    }
    expect(await sessionIds(s, 'id-alice')).toHaveLength(2);
  });

  it('a POST from the client’s site is not refused as cross-site (a top-level navigation) and, carrying no Lax cookie, asks', async () => {
    const s = await signedIn();
    const res = await s.call('/oauth/end-session', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://app.test', 'sec-fetch-site': 'cross-site' },
      body: new URLSearchParams({ id_token_hint: s.hint, post_logout_redirect_uri: 'https://app.test/bye' }).toString(),
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('Sign out?');
    expect(await sessionIds(s, 'id-alice')).toHaveLength(2);
  });

  it('under an issuer with a path, the form posts to <issuer>/oauth/end-session/confirm', async () => {
    const s = oidcSetup('EdDSA', { issuer: 'https://auth.test/tenant' });
    const browser = await hostedSignIn(s, 'alice');
    const page = await s.call('/oauth/end-session?client_id=web&post_logout_redirect_uri=https://app.test/bye', { headers: { cookie: browser.cookie } });
    const html = await page.text();
    expect(html).toContain('action="/tenant/oauth/end-session/confirm"');
    const ok = await s.call('/oauth/end-session/confirm', confirmInit(browser.cookie, sealedOf(html)));
    expect(ok.headers.get('location')).toBe('https://app.test/bye');
    expect(await s.baton.listSessions('id-alice')).toEqual([]);
  });

  it('HEAD only looks: nobody is signed out', async () => {
    const s = await signedIn();
    const res = await s.call(`/oauth/end-session?id_token_hint=${s.hint}`, { method: 'HEAD', headers: { cookie: s.browser.cookie } });
    expect(res.status).toBe(200);
    expect(await sessionIds(s, 'id-alice')).toHaveLength(2);
  });

  it('oversized or repeated parameters: an error page', async () => {
    const s = await signedIn();
    expect((await s.call(`/oauth/end-session?state=${'s'.repeat(1025)}`)).status).toBe(400);
    expect((await s.call('/oauth/end-session?client_id=web&client_id=other')).status).toBe(400);
  });
});

describe('laws', () => {
  const REGISTERED = ['https://app.test/bye', 'https://app.test/bye?from=idp', 'https://other.test/bye'];
  const redirectsTo = (location: string, uri: string): boolean => location === uri || location.startsWith(`${uri}${uri.includes('?') ? '&' : '?'}state=`);

  it('whatever the parameters, no 500, and a Location is only ever a registered URI of the hint’s or client_id’s client', async () => {
    const s = await signedIn();
    const bobHint = await idToken(s.context, { userId: 'id-bob', clientId: 'other', authTime: 1, sid: 'x', scope: ['openid'] });
    let redirected = 0;
    const junk = fc.string({ maxLength: 80 });
    const params = fc.record(
      {
        id_token_hint: fc.oneof({ arbitrary: fc.constantFrom(s.hint, bobHint, ''), weight: 4 }, junk),
        client_id: fc.oneof({ arbitrary: fc.constantFrom('web', 'other', 'nobody', ''), weight: 4 }, junk),
        post_logout_redirect_uri: fc.oneof(
          {
            arbitrary: fc.constantFrom(
              ...REGISTERED,
              'https://evil.test/bye',
              'https://app.test/bye/',
              'https://APP.test/bye',
              'https://app.test/bye?from=idp&x',
            ),
            weight: 4,
          },
          junk,
        ),
        state: junk,
        logout_hint: junk,
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(params, fc.constantFrom('GET', 'POST'), fc.boolean(), async (p, method, withCookie) => {
        const query = new URLSearchParams(p).toString();
        const headers: Record<string, string> = withCookie ? { cookie: s.browser.cookie } : {};
        const res =
          method === 'GET'
            ? await s.call(`/oauth/end-session?${query}`, { headers })
            : await s.call('/oauth/end-session', { method, headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' }, body: query });
        expect(res.status).toBeLessThan(500);
        let location = res.headers.get('location');
        // Asked: confirm, as the user would, and look where that goes.
        const sealed = res.status === 200 ? sealedOf(await res.text()) : '';
        if (withCookie && sealed !== '') location = (await s.call('/oauth/end-session/confirm', confirmInit(s.browser.cookie, sealed))).headers.get('location');
        if (location === null) return;
        redirected++;
        const client = p.client_id || (p.id_token_hint === bobHint ? 'other' : p.id_token_hint === s.hint ? 'web' : undefined);
        const allowed = client === 'web' ? REGISTERED.slice(0, 2) : client === 'other' ? REGISTERED.slice(2) : [];
        expect(allowed.some((uri) => uri === p.post_logout_redirect_uri && redirectsTo(location, uri))).toBe(true);
      }),
      { numRuns: 500 },
    );
    expect(redirected).toBeGreaterThan(5); // the law was put to the test (about 3% of runs redirect)
  });

  it('the OIDC endpoints never answer 500, whatever the request', async () => {
    const s = await signedIn();
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('/oauth/userinfo', '/oauth/end-session', '/oauth/end-session/confirm', '/.well-known/openid-configuration'),
        fc.constantFrom('GET', 'POST', 'HEAD', 'PUT'),
        fc.constantFrom('application/json', 'application/x-www-form-urlencoded', 'text/plain', ''),
        fc.string({ maxLength: 200 }),
        fc.option(fc.string({ maxLength: 60 }), { nil: undefined }),
        fc.boolean(),
        async (path, method, type, body, auth, withCookie) => {
          const headers: Record<string, string> = { origin: ORIGIN };
          if (type) headers['content-type'] = type;
          if (auth !== undefined) headers.authorization = auth.replace(/[\r\n]/g, '');
          if (withCookie) headers.cookie = s.browser.cookie;
          let res: Response;
          try {
            res = await s.call(path, { method, headers, ...(method === 'GET' || method === 'HEAD' ? {} : { body }) });
          } catch (err) {
            if (err instanceof TypeError) return; // a header the Fetch API itself refuses to build
            throw err;
          }
          expect(res.status).toBeLessThan(500);
        },
      ),
      { numRuns: 300 },
    );
  });
});
