/**
 * Red team of the authorization endpoint (issue #25): the attempts that failed. Each test is an
 * attack made from outside through `Request`s to the handler, and asserts the refusal. The breaks
 * found are the other `authz-*.test.ts` files of this folder, each with its fix.
 *
 * Classes (/work/shared/ATTACKS.md): 1 cost (rows per refused request, CPU per unauthenticated
 * request, the consent store's memory), 3 requests from elsewhere (open redirect, CSRF and login
 * CSRF, clickjacking, the token endpoint's CORS rule), 5 secrets in output (logs, pages), 6 protocol
 * edges (code replay and substitution, PKCE downgrade, mix-up, DPoP binding, one sealed purpose as
 * another, session fixation, consent bypass, throttling bypass, header and HTML injection, caching).
 */
import { describe, expect, it } from 'vitest';
import { generateKey } from 'baton-auth';
import { createLoginProtection, memoryConsents } from 'baton-auth/http';
import { memoryStore } from 'baton-auth/stores/memory';
import { ManualClock } from '../support/clock.ts';
import { dpopKey, dpopProof } from '../support/dpop.ts';
import { APP, Browser, CB, CLIENTS, ISSUER, pkce, redirectedTo, SECRET, setup, txnOf } from '../support/authz.ts';

type S = ReturnType<typeof setup>;
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

function exchange(s: S, fields: Record<string, string>, headers: Record<string, string> = {}) {
  return s.call('/oauth/token', {
    method: 'POST',
    headers: { ...FORM, ...headers },
    body: new URLSearchParams({ grant_type: 'authorization_code', ...fields }).toString(),
  });
}

/** A code of `client` for alice through the hosted page (consent given when the client asks for it). */
async function codeFor(s: S, params: Record<string, string> = {}): Promise<{ code: string; b: Browser; q: URLSearchParams }> {
  const b = s.browser();
  let res = await s.signIn(b, await b.get(s.authorizePath(params)));
  if (res.status === 200) res = await b.post('/oauth/authorize/consent', { txn: txnOf(await res.text()), decision: 'allow' });
  const q = redirectedTo(res, params.redirect_uri ?? CB);
  return { code: q.get('code') as string, b, q };
}

/** A memory store that counts its writes (every call but the reads). */
function countingStore() {
  const READS = new Set([
    'getSession',
    'listSessions',
    'sessionHistory',
    'revocationsSince',
    'revocationsAfter',
    'revocationHead',
    'subscribe',
    'findOpaqueToken',
    'ping',
    'subscribed',
    'getRecord',
    'listRecords',
    'getCounter',
    'counterKeys',
    'close',
    'constructor',
  ]);
  const inner = memoryStore();
  const writes: Record<string, number> = {};
  const store = new Proxy(inner, {
    get(target, name) {
      const value = Reflect.get(target, name, target) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (typeof name === 'string' && !READS.has(name)) writes[name] = (writes[name] ?? 0) + 1;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store, total: () => Object.values(writes).reduce((a, b) => a + b, 0), writes };
}

describe('open redirect (class 3)', () => {
  const HOSTILE = [
    `${CB}/`,
    `${CB}?x=1`,
    `${CB}#x`,
    `${CB}%2F`,
    `${CB}/../cb`,
    'https://APP.example/cb',
    'https://app.example:443/cb',
    'https://app.example./cb',
    'https://app.example.evil.example/cb',
    'https://evil.example/https://app.example/cb',
    'https://app.example@evil.example/cb',
    'https://evil.example\\@app.example/cb',
    '//evil.example/cb',
    'javascript:alert(1)//https://app.example/cb',
    'data:text/html,<script>alert(1)</script>',
    ' https://app.example/cb',
    'https://app.example/cb\r\nLocation: https://evil.example',
    'https://app.example/cb\u0000',
    'http://app.example/cb',
    'http://127.0.0.1.evil.example/callback',
    'http://127.0.0.1:80@evil.example/callback',
    'http://127.0.0.1:8080.evil.example/callback',
    'http://127.0.0.1:0080/callback',
    'http://127.0.0.1:65536/callback',
    'http://127.0.0.1:-1/callback',
    'http://127.0.0.1:/callback',
    'http://127.0.0.1:8080/callback/',
    'http://127.0.0.1:8080/callback?x',
    'http://127.0.0.1:8080/CALLBACK',
    'http://localhost:8080/callback',
    'http://[::1]:8080/callback',
    'http://127.1:8080/callback',
    'http://2130706433:8080/callback',
    'http://0x7f.0.0.1:8080/callback',
    'https://127.0.0.1:8080/callback',
    'http://127.0.0.2:8080/callback',
    'http://127.0.0.1:8080\\@evil.example/callback',
  ];

  it(`never a Location to an unregistered redirect_uri (${HOSTILE.length} values, two clients, an error in each request)`, async () => {
    const s = setup();
    let pages = 0;
    for (const uri of HOSTILE)
      for (const client_id of ['first', 'native']) {
        const res = await s.call(s.authorizePath({ client_id, redirect_uri: uri, response_type: 'token' }));
        expect([uri, res.headers.get('location')]).toEqual([uri, null]);
        expect(res.status).toBe(400);
        pages++;
      }
    console.info(`open redirect corpus: ${pages} requests, ${pages} error pages, 0 redirects`);
  });

  it('every redirected error goes to the registered URI only, with iss (mix-up, RFC 9207) and the state', async () => {
    const s = setup();
    for (const extra of [
      { code_challenge: undefined },
      { code_challenge_method: 'plain' },
      { scope: 'admin' },
      { response_mode: 'fragment' },
      { prompt: 'none' },
    ]) {
      const q = redirectedTo(await s.call(s.authorizePath(extra)));
      expect(q.get('iss')).toBe(ISSUER);
      expect(q.get('state')).toBe('st-123');
      expect(q.get('error')).toBeTruthy();
    }
  });

  it('the end of consent (Deny), a resumed txn and a PAR request_uri go only to the URI checked at the start', async () => {
    const s = setup();
    const b = s.browser();
    const consent = await s.signIn(b, await b.get(s.authorizePath({ client_id: 'app' })));
    const deny = await b.post('/oauth/authorize/consent', { txn: txnOf(await consent.text()), decision: 'deny' });
    expect(redirectedTo(deny).get('error')).toBe('access_denied');
    // A pushed request's redirect_uri is checked when pushed; one not registered is refused there, as JSON.
    const par = await s.call('/oauth/par', {
      method: 'POST',
      headers: { ...FORM, authorization: `Basic ${Buffer.from(`conf:${SECRET}`).toString('base64')}` },
      body: new URLSearchParams({
        redirect_uri: 'https://evil.example/cb',
        response_type: 'code',
        code_challenge: s.challenge,
        code_challenge_method: 'S256',
      }).toString(),
    });
    expect(par.status).toBe(400);
    expect(par.headers.get('location')).toBeNull();
  });
});

describe('one sealed purpose used as another (class 6)', () => {
  it('a code, a pushed request, a transaction and the AS cookie each open nothing but their own', async () => {
    const s = setup();
    const { code, b } = await codeFor(s, { scope: 'profile' });
    const page = await s.browser().get(s.authorizePath());
    const txn = txnOf(await page.text());
    const asCookie = b.jar.get('__Host-baton_as') as string;
    expect(asCookie).toBeTruthy();
    // txn ← code, AS cookie
    for (const value of [code, asCookie]) expect((await s.call(`/oauth/authorize?txn=${value}`)).status).toBe(400);
    // request_uri ← code, txn
    for (const value of [code, txn])
      expect((await s.call(`/oauth/authorize?client_id=first&request_uri=urn:ietf:params:oauth:request_uri:${value}`)).status).toBe(400);
    // code ← txn, AS cookie
    for (const value of [txn, asCookie])
      expect(
        ((await (await exchange(s, { code: value, redirect_uri: CB, code_verifier: s.verifier, client_id: 'first' })).json()) as { error: string }).error,
      ).toBe('invalid_grant');
    // AS cookie ← txn, code: not signed in (the sign-in page again)
    for (const value of [txn, code]) {
      const res = await s.call(s.authorizePath(), { headers: { cookie: `__Host-baton_as=${value}` } });
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('name="password"');
    }
  });
});

describe('codes (class 6)', () => {
  it('replayed: refused, and the session of its first redemption ended (RFC 6749 §4.1.2)', async () => {
    const s = setup();
    const { code } = await codeFor(s, { scope: 'profile' });
    const fields = { code, redirect_uri: CB, code_verifier: s.verifier, client_id: 'first' };
    const first = (await (await exchange(s, fields)).json()) as { access_token: string; session_id: string };
    expect((await exchange(s, fields)).status).toBe(400);
    expect((await s.baton.listSessions('id-alice')).some((x) => x.id === first.session_id)).toBe(false);
  });

  it('another client, another redirect URI (a loopback one on another port), no or another verifier: invalid_grant, and the code still works after', async () => {
    const s = setup();
    const { code } = await codeFor(s, { client_id: 'native', redirect_uri: 'http://127.0.0.1:50000/callback', scope: 'profile' });
    const right = { code, redirect_uri: 'http://127.0.0.1:50000/callback', code_verifier: s.verifier, client_id: 'native' };
    for (const wrong of [
      { client_id: 'first' },
      { redirect_uri: 'http://127.0.0.1:50001/callback' },
      { redirect_uri: 'http://127.0.0.1/callback' },
      { code_verifier: undefined },
      { code_verifier: pkce().verifier },
      { code_verifier: s.challenge }, // the challenge itself as the verifier (a "plain" downgrade)
    ]) {
      const fields = Object.fromEntries(Object.entries({ ...right, ...wrong }).filter(([, v]) => v !== undefined)) as Record<string, string>;
      const res = await exchange(s, fields);
      expect([JSON.stringify(wrong), res.status]).toEqual([JSON.stringify(wrong), 400]);
    }
    expect((await exchange(s, right)).status).toBe(200);
  });

  it('PKCE cannot be downgraded at the authorization endpoint: plain, none, a lower-case method, a short challenge', async () => {
    const s = setup();
    for (const extra of [
      { code_challenge_method: 'plain' },
      { code_challenge_method: undefined },
      { code_challenge_method: 's256' },
      { code_challenge: 'a'.repeat(42) },
    ])
      expect(redirectedTo(await s.call(s.authorizePath(extra))).get('error')).toBe('invalid_request');
  });

  it('a code bound by dpop_jkt is refused without a proof and with a proof by another key (RFC 9449 §10)', async () => {
    const s = setup();
    const key = await dpopKey();
    const other = await dpopKey();
    const { code } = await codeFor(s, { dpop_jkt: key.jkt, scope: 'profile' });
    const fields = { code, redirect_uri: CB, code_verifier: s.verifier, client_id: 'first' };
    expect(((await (await exchange(s, fields)).json()) as { error: string }).error).toBe('invalid_grant');
    const proof = await dpopProof(other, 'POST', `${ISSUER}/oauth/token`, { nonce: s.baton.dpopNonce(), iat: Math.floor(s.clock.ms / 1000) });
    expect(((await (await exchange(s, fields, { dpop: proof })).json()) as { error: string }).error).toBe('invalid_grant');
    const mine = await dpopProof(key, 'POST', `${ISSUER}/oauth/token`, { nonce: s.baton.dpopNonce(), iat: Math.floor(s.clock.ms / 1000) });
    expect(((await (await exchange(s, fields, { dpop: mine })).json()) as { token_type: string }).token_type).toBe('DPoP');
  });
});

describe('CSRF and login CSRF on the hosted forms (class 3)', () => {
  it("a cross-site post, one without Origin from another site, another browser's form, a missing or other CSRF cookie: 403, nobody signed in", async () => {
    const s = setup();
    const victim = s.browser();
    const attacker = s.browser();
    const page = await attacker.get(s.authorizePath());
    const txn = txnOf(await page.text());
    const fields = { txn, username: 'alice', password: 'correct horse' };
    const attempts: [string, Promise<Response>][] = [
      ['Origin of another site', victim.post('/oauth/authorize/sign-in', fields, { origin: 'https://evil.example' })],
      ['Origin null', victim.post('/oauth/authorize/sign-in', fields, { origin: 'null' })],
      ['no Origin, Sec-Fetch-Site cross-site', victim.post('/oauth/authorize/sign-in', fields, { origin: '', 'sec-fetch-site': 'cross-site' })],
      ["the attacker's form in the victim's browser", victim.post('/oauth/authorize/sign-in', fields)],
      [
        'no CSRF cookie',
        s.call('/oauth/authorize/sign-in', { method: 'POST', headers: { ...FORM, origin: ISSUER }, body: new URLSearchParams(fields).toString() }),
      ],
      [
        'a CSRF cookie of the right shape but another value',
        victim.post('/oauth/authorize/sign-in', fields, { cookie: `__Host-baton_csrf=${'A'.repeat(43)}` }),
      ],
    ];
    for (const [what, pending] of attempts) {
      const res = await pending;
      expect([what, res.status]).toEqual([what, 403]);
      expect(res.headers.getSetCookie().some((c) => c.startsWith('__Host-baton_as='))).toBe(false);
    }
    expect(await s.baton.listSessions('id-alice')).toEqual([]);
  });

  it("the consent form: another browser's, another user's, or one posted cross-site is refused; no code", async () => {
    const s = setup();
    const alice = s.browser();
    const consent = await s.signIn(alice, await alice.get(s.authorizePath({ client_id: 'app' })));
    const txn = txnOf(await consent.text());
    const bob = s.browser();
    await s.signIn(bob, await bob.get(s.authorizePath()), 'bob');
    expect((await bob.post('/oauth/authorize/consent', { txn, decision: 'allow' })).status).toBe(403);
    expect((await alice.post('/oauth/authorize/consent', { txn, decision: 'allow' }, { origin: 'https://evil.example' })).status).toBe(403);
    // Bob signs in in Alice's browser (a second tab): the page shown to Alice is no longer answered.
    s.clock.advance(1000);
    await s.signIn(alice, await alice.get(s.authorizePath({ prompt: 'login' })), 'bob');
    expect((await alice.post('/oauth/authorize/consent', { txn, decision: 'allow' })).status).toBe(403);
  });

  it('cookies are __Host- (no cookie tossing from a sibling domain), HttpOnly; the CSRF one SameSite=Strict, the AS one Lax', async () => {
    const s = setup();
    const b = s.browser();
    const page = await b.get(s.authorizePath());
    const csrf = page.headers.getSetCookie().find((c) => c.startsWith('__Host-baton_csrf=')) as string;
    expect(csrf).toMatch(/; Path=\/; HttpOnly; SameSite=Strict; Secure/);
    const signed = await s.signIn(b, page);
    const as = signed.headers.getSetCookie().find((c) => c.startsWith('__Host-baton_as=')) as string;
    expect(as).toMatch(/; Path=\/; HttpOnly; SameSite=Lax; Secure/);
    expect(as).not.toMatch(/Domain=/i);
  });
});

describe('clickjacking and caching (class 3, 6)', () => {
  it('every page forbids framing and caching; every redirect and JSON answer forbids caching', async () => {
    const s = setup({ loginProtection: createLoginProtection({ failures: { max: 1, blockMs: 60_000 } }) });
    const b = s.browser();
    const signInPage = await b.get(s.authorizePath({ client_id: 'app' }));
    const txn = txnOf(await signInPage.clone().text());
    const blocked = await b.post('/oauth/authorize/sign-in', { txn, username: 'zed', password: 'x' });
    const consent = await s.signIn(b, await b.get(s.authorizePath({ client_id: 'app' })));
    const pages = {
      signInPage,
      blocked,
      consent,
      errorPage: await s.call('/oauth/authorize?client_id=nobody'),
      csrfRefused: await s.browser().post('/oauth/authorize/sign-in', { txn }),
    };
    for (const [what, res] of Object.entries(pages)) {
      expect([what, res.headers.get('x-frame-options'), res.headers.get('cache-control')]).toEqual([what, 'DENY', 'no-store']);
      expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    }
    expect(blocked.status).toBe(429);
    const redirect = await b.post('/oauth/authorize/consent', { txn: txnOf(await consent.text()), decision: 'allow' });
    expect(redirect.headers.get('cache-control')).toBe('no-store');
    const token = await exchange(s, { code: redirectedTo(redirect).get('code') as string, redirect_uri: CB, code_verifier: s.verifier, client_id: 'app' });
    expect(token.headers.get('cache-control')).toBe('no-store');
  });
});

describe('session fixation and the AS cookie (class 6)', () => {
  it('a planted or forged AS cookie signs nobody in; a sign-in replaces it; the cookie dies with its session', async () => {
    const s = setup();
    const b = s.browser();
    b.jar.set('__Host-baton_as', 'A'.repeat(200));
    const page = await b.get(s.authorizePath());
    expect(await page.clone().text()).toContain('name="password"');
    await s.signIn(b, page);
    const cookie = b.jar.get('__Host-baton_as') as string;
    expect(cookie).not.toBe('A'.repeat(200));
    expect(redirectedTo(await b.get(s.authorizePath())).get('code')).toBeTruthy();
    await s.baton.revokeUserSessions('id-alice');
    const after = await b.get(s.authorizePath());
    expect(after.status).toBe(200);
    expect(await after.text()).toContain('name="password"');
  });
});

describe('consent bypass (class 6)', () => {
  it('prompt=none without consent, a wider scope, prompt=consent: asked (or consent_required), never a code', async () => {
    const s = setup();
    const b = s.browser();
    const consent = await s.signIn(b, await b.get(s.authorizePath({ client_id: 'app', scope: 'profile' })));
    expect(redirectedTo(await b.get(s.authorizePath({ client_id: 'app', scope: 'profile', prompt: 'none' }))).get('error')).toBe('consent_required');
    await b.post('/oauth/authorize/consent', { txn: txnOf(await consent.text()), decision: 'allow' });
    expect(redirectedTo(await b.get(s.authorizePath({ client_id: 'app', scope: 'profile' }))).get('code')).toBeTruthy();
    for (const extra of [{ scope: 'profile orders:read' }, { scope: undefined }, { scope: 'profile', prompt: 'consent' }]) {
      const res = await b.get(s.authorizePath({ client_id: 'app', ...extra }));
      expect([JSON.stringify(extra), res.status]).toEqual([JSON.stringify(extra), 200]);
      expect(await res.text()).toContain('Allow access?');
    }
    expect(redirectedTo(await b.get(s.authorizePath({ client_id: 'app', scope: 'profile orders:read', prompt: 'none' }))).get('error')).toBe(
      'consent_required',
    );
  });

  it("a scope outside the client's list or the user's is never granted, consent or not", async () => {
    const s = setup();
    expect(redirectedTo(await s.call(s.authorizePath({ scope: 'admin' }))).get('error')).toBe('invalid_scope');
    const { code } = await codeFor(s, { scope: 'profile orders:read' }); // alice has both
    const bob = await codeFor(s, { scope: 'profile' });
    expect(code && bob.code).toBeTruthy();
    const b = s.browser();
    const res = await s.signIn(b, await b.get(s.authorizePath({ scope: 'orders:read' })), 'bob'); // bob has no orders:read
    expect(redirectedTo(res).get('error')).toBe('invalid_scope');
  });

  it('the consent store at its bound forgets (the user is asked again), it never grants', async () => {
    const consents = memoryConsents({ maxUsers: 1, maxPerUser: 1 });
    const s = setup({ authorization: { consents } });
    const alice = s.browser();
    const first = await s.signIn(alice, await alice.get(s.authorizePath({ client_id: 'app', scope: 'profile' })));
    await alice.post('/oauth/authorize/consent', { txn: txnOf(await first.text()), decision: 'allow' });
    await consents.put('someone-else', 'app', ['profile'], 1); // pushes alice out
    const again = await alice.get(s.authorizePath({ client_id: 'app', scope: 'profile' }));
    expect(again.status).toBe(200);
    expect(await again.text()).toContain('Allow access?');
  });
});

describe('throttling on the hosted page (class 1, 6)', () => {
  it("a username's case does not reset its budget, nor do addresses of one IPv6 /64", async () => {
    const s = setup({ loginProtection: createLoginProtection({ failures: { max: 3, blockMs: 3_600_000 } }) });
    const tries: [string, string][] = [
      ['alice', '2001:db8:1:2::1'],
      ['ALICE', '2001:db8:1:2::2'],
      ['Alice', '2001:db8:1:2:ffff::9'],
      ['aLiCe', '2001:db8:1:2::3'],
    ];
    const statuses: number[] = [];
    for (const [username, ip] of tries) {
      const b = new Browser((path, init) => s.call(path, init, ip));
      const page = await b.get(s.authorizePath());
      statuses.push((await b.post('/oauth/authorize/sign-in', { txn: txnOf(await page.text()), username, password: 'guess' })).status);
    }
    expect(statuses).toEqual([401, 401, 429, 429]);
  });
});

describe("the token endpoint's CORS rule for a public client's origin (class 3)", () => {
  const post = (s: S, fields: Record<string, string>, headers: Record<string, string> = {}) =>
    s.call('/oauth/token', { method: 'POST', headers: { ...FORM, origin: APP, ...headers }, body: new URLSearchParams(fields).toString() });

  it("a confidential client, a secret, Basic credentials, a refresh cookie, another client's origin: 403, nothing rotated", async () => {
    const s = setup({}, [...CLIENTS, { id: 'elsewhere', redirectUris: ['https://elsewhere.example/cb'] }]);
    const pair = await s.baton.login('id-alice', { clientId: 'app' });
    const basic = `Basic ${Buffer.from(`conf:${SECRET}`).toString('base64')}`;
    const attempts: [string, Promise<Response>][] = [
      ['a confidential client', post(s, { grant_type: 'refresh_token', refresh_token: pair.refresh_token, client_id: 'conf' })],
      ['its secret in the body', post(s, { grant_type: 'refresh_token', refresh_token: pair.refresh_token, client_id: 'conf', client_secret: SECRET })],
      ['Basic credentials', post(s, { grant_type: 'refresh_token', refresh_token: pair.refresh_token }, { authorization: basic })],
      ['the refresh cookie', post(s, { grant_type: 'refresh_token', client_id: 'app' }, { cookie: `__Host-baton_rt=${pair.refresh_token}` })],
      ["another public client's origin", post(s, { grant_type: 'refresh_token', refresh_token: pair.refresh_token, client_id: 'elsewhere' })],
      [
        'an origin of no client',
        post(s, { grant_type: 'refresh_token', refresh_token: pair.refresh_token, client_id: 'app' }, { origin: 'https://evil.example' }),
      ],
    ];
    for (const [what, pending] of attempts) {
      const res = await pending;
      expect([what, res.status]).toEqual([what, 403]);
      expect(res.headers.get('access-control-allow-credentials')).toBeNull();
      expect(res.headers.get('set-cookie')).toBeNull();
    }
    // Nothing was rotated: the refresh token is still the live one.
    const ok = await post(s, { grant_type: 'refresh_token', refresh_token: pair.refresh_token, client_id: 'app' });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('access-control-allow-origin')).toBe(APP);
    expect(ok.headers.get('access-control-allow-credentials')).toBeNull();
  });
});

describe('what an unauthenticated caller makes the service spend (class 1)', () => {
  it('2,000 refused requests of each kind write nothing to the store; the costliest unauthenticated answer is cheap', async () => {
    const clock = new ManualClock();
    const counted = countingStore();
    const s = setup({ loginProtection: createLoginProtection({ store: counted.store, now: clock.now }) }, CLIENTS, {
      store: counted.store,
      clock,
      keys: [generateKey('EdDSA', 'ed-1')],
    });
    const b = s.browser();
    const page = await b.get(s.authorizePath());
    const txn = txnOf(await page.text());
    const { code } = await codeFor(s, { scope: 'profile' });
    const form =
      (path: string, fields: Record<string, string>, headers: Record<string, string> = {}) =>
      () =>
        s.call(path, {
          method: 'POST',
          // A header given as '' is left out (a client's server-side request has no Origin).
          headers: Object.fromEntries(Object.entries({ ...FORM, origin: ISSUER, cookie: b.cookieHeader(), ...headers }).filter(([, v]) => v !== '')),
          body: new URLSearchParams(fields).toString(),
        });
    const get = (path: string) => () => s.call(path);
    const kinds: [string, () => Promise<Response>, number][] = [
      ['authorize, unknown client', get('/oauth/authorize?client_id=nobody'), 400],
      ['authorize, the sign-in page', get(s.authorizePath()), 200],
      ['authorize, a redirected error', get(s.authorizePath({ response_type: 'token' })), 303],
      ['sign-in, cross-site', form('/oauth/authorize/sign-in', { txn, username: 'alice', password: 'x' }, { origin: 'https://evil.example' }), 403],
      ['sign-in, a forged txn', form('/oauth/authorize/sign-in', { txn: 'A'.repeat(300), username: 'alice', password: 'x' }), 400],
      ['sign-in, no password', form('/oauth/authorize/sign-in', { txn, username: 'alice' }), 400],
      ['consent, nobody signed in', form('/oauth/authorize/consent', { txn, decision: 'allow' }), 403],
      [
        'token, a forged code',
        form(
          '/oauth/token',
          { grant_type: 'authorization_code', code: 'A'.repeat(400), redirect_uri: CB, code_verifier: s.verifier, client_id: 'first' },
          { origin: '' },
        ),
        400,
      ],
      [
        'token, a real code, a wrong verifier',
        form('/oauth/token', { grant_type: 'authorization_code', code, redirect_uri: CB, code_verifier: pkce().verifier, client_id: 'first' }, { origin: '' }),
        400,
      ],
      [
        'par, an unregistered redirect_uri',
        form('/oauth/par', { client_id: 'app', redirect_uri: 'https://evil.example/', response_type: 'code' }, { origin: '' }),
        400,
      ],
      ['end-session, a forged hint', get(`/oauth/end-session?id_token_hint=${'A'.repeat(100)}.${'B'.repeat(100)}.${'C'.repeat(86)}`), 200],
      ['end-session confirm, a forged form', form('/oauth/end-session/confirm', { logout: 'A'.repeat(300) }), 400],
    ];
    for (const [what, request, status] of kinds) {
      const before = counted.total();
      const started = performance.now();
      for (let i = 0; i < 2000; i++) {
        const res = await request();
        if (i === 0) expect([what, res.status, res.status === 500 ? s.logs.at(-2) : '']).toEqual([what, status, '']);
      }
      const msEach = (performance.now() - started) / 2000;
      console.info(`${what}: 2000 requests, ${counted.total() - before} store writes, ${msEach.toFixed(3)} ms each`);
      expect([what, counted.total() - before]).toEqual([what, 0]);
      expect(msEach).toBeLessThan(5);
    }
  }, 120_000);
});

describe('secrets in output and injection (class 5, 6)', () => {
  it('no code, state, password, verifier, txn, cookie or token in a log line', async () => {
    const s = setup({}, CLIENTS, { keys: [generateKey('EdDSA', 'ed-1')] });
    const b = s.browser();
    const state = 'state-SECRET-7f3a';
    const page = await b.get(s.authorizePath({ client_id: 'app', state, nonce: 'nonce-SECRET-91' }));
    const txn = txnOf(await page.text());
    await b.post('/oauth/authorize/sign-in', { txn, username: 'alice', password: 'wrong-PASSWORD-1' });
    const consent = await s.signIn(b, await b.get(s.authorizePath({ client_id: 'app', state, nonce: 'nonce-SECRET-91' })));
    const q = redirectedTo(await b.post('/oauth/authorize/consent', { txn: txnOf(await consent.text()), decision: 'allow' }));
    const code = q.get('code') as string;
    const fields = { code, redirect_uri: CB, code_verifier: s.verifier, client_id: 'app' };
    const tokens = (await (await exchange(s, fields)).json()) as Record<string, string>;
    await exchange(s, fields); // replayed
    await exchange(s, { ...fields, code: `${code.slice(0, -4)}AAAA` });
    const logs = s.logs.join('\n');
    const secrets = [
      code,
      state,
      'nonce-SECRET-91',
      'wrong-PASSWORD-1',
      'correct horse',
      s.verifier,
      s.challenge,
      txn,
      ...b.jar.values(),
      tokens.access_token,
      tokens.refresh_token,
      tokens.id_token,
    ];
    for (const secret of secrets) expect(logs.includes(secret as string)).toBe(false);
    expect(s.logs.length).toBeGreaterThan(5);
  });

  it('state and error text are encoded into the Location; a CR LF or a non-ASCII character never splits or breaks it', async () => {
    const s = setup();
    const res = await s.call(s.authorizePath({ state: 'a\r\nSet-Cookie: x=1\u2028é', response_type: 'token' }));
    const location = res.headers.get('location') as string;
    expect(location).toMatch(/^https:\/\/app\.example\/cb\?error=/);
    expect(location).not.toMatch(/[\r\n\s]/);
    expect(new URL(location).searchParams.get('state')).toBe('a\r\nSet-Cookie: x=1\u2028é');
    expect(res.headers.get('set-cookie')).toBeNull();
  });

  it('a username, a scope or a client name with markup is escaped on every page', async () => {
    const s = setup();
    const b = s.browser();
    const markup = '"><img src=x onerror=alert(1)>';
    const wrong = await b.post('/oauth/authorize/sign-in', { txn: txnOf(await (await b.get(s.authorizePath())).text()), username: markup, password: 'x' });
    const third = await s.call(s.authorizePath({ client_id: 'app', scope: '<img/src=x>' })); // a third party's error before sign-in: a page
    const consent = await s.signIn(b, await b.get(s.authorizePath({ client_id: 'app' })));
    for (const [res, shown] of [
      [wrong, true],
      [third, true],
      [consent, false],
    ] as const) {
      const html = await res.text();
      expect(html).not.toMatch(/<img[^>]*(src=x|\/src=x)/);
      if (shown) expect(html).toMatch(/&#60;img/);
    }
    expect(await (await s.browser().get(s.authorizePath({ client_id: 'app' }))).text()).toContain('Shop &#60;App&#62;');
  });
});
