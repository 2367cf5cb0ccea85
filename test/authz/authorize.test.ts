/**
 * `GET /oauth/authorize`: the order of the checks, where an error may go (a page before the client
 * and its redirect URI are verified, a redirect with `state` and `iss` after), PKCE for every
 * client, the code's redirect, and what every answer carries.
 */
import { describe, expect, it } from 'vitest';
import { generateKey } from 'baton-auth';
import { APP, CB, CLIENTS, ISSUER, redirectedTo, setup } from '../support/authz.ts';

describe('the client and redirect URI come first: never a redirect before both are verified', () => {
  it.each([
    ['an unknown client', { client_id: 'nobody' }],
    ['no client', { client_id: undefined }],
    ['no redirect_uri', { redirect_uri: undefined }],
    ['an unregistered redirect_uri', { redirect_uri: 'https://evil.example/cb' }],
    ['a redirect_uri that differs by a trailing slash', { redirect_uri: `${CB}/` }],
    ['a redirect_uri of another client', { client_id: 'native' }],
    ['a client without redirect URIs', { client_id: 'default' }],
    // Every other parameter is wrong too: the page still wins, as the client cannot be trusted.
    ['an unknown client with a wrong response_type', { client_id: 'nobody', response_type: 'token', code_challenge: undefined }],
    ['a repeated redirect_uri', { extra: '&redirect_uri=https%3A%2F%2Fevil.example%2Fcb' }],
    ['a repeated client_id', { extra: '&client_id=app' }],
  ])('%s → a 400 page, no Location', async (_name, params: Record<string, string | undefined>) => {
    const { call, authorizePath } = setup();
    const { extra = '', ...rest } = params;
    const res = await call(authorizePath(rest) + extra);
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await res.text()).not.toContain('evil.example');
  });
});

describe('after them, every error redirects with error, state and iss (RFC 6749 §4.1.2.1, RFC 9207)', () => {
  it.each([
    ['response_type=token', { response_type: 'token' }, 'unsupported_response_type'],
    ['no response_type', { response_type: undefined }, 'invalid_request'],
    ['response_mode=fragment', { response_mode: 'fragment' }, 'invalid_request'],
    ['no PKCE', { code_challenge: undefined, code_challenge_method: undefined }, 'invalid_request'],
    ['PKCE plain', { code_challenge_method: 'plain' }, 'invalid_request'],
    ['PKCE without a method', { code_challenge_method: undefined }, 'invalid_request'],
    ['a malformed challenge', { code_challenge: 'too-short' }, 'invalid_request'],
    ['a challenge with a character outside base64url', { code_challenge: `${'a'.repeat(42)}+` }, 'invalid_request'],
    ['a scope outside the client list', { scope: 'openid admin' }, 'invalid_scope'],
    ['an unknown resource', { resource: 'https://api.other' }, 'invalid_target'],
    ['a scope of 2049 characters', { scope: `openid ${'x'.repeat(2042)}` }, 'invalid_scope'],
    ['a nonce of 257 characters', { nonce: 'n'.repeat(257) }, 'invalid_request'],
    ['prompt=none login', { prompt: 'none login' }, 'invalid_request'],
    ['an unknown prompt', { prompt: 'maybe' }, 'invalid_request'],
    ['max_age=-1', { max_age: '-1' }, 'invalid_request'],
    ['a malformed dpop_jkt', { dpop_jkt: 'abc' }, 'invalid_request'],
    ['a request object', { request: 'eyJ.x.y' }, 'request_not_supported'],
  ])('%s → %s', async (_name, params, error) => {
    const { call, authorizePath } = setup();
    const res = await call(authorizePath(params as Record<string, string | undefined>));
    const q = redirectedTo(res);
    expect(q.get('error')).toBe(error);
    expect(q.get('error_description')).toBeTruthy();
    expect(q.get('state')).toBe('st-123');
    expect(q.get('iss')).toBe(ISSUER);
    expect(q.get('code')).toBeNull();
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  it('a repeated parameter is invalid_request (RFC 6749 §3.1); resource may repeat (RFC 8707)', async () => {
    const { call, authorizePath } = setup({ resources: ['https://api.one', 'https://api.two'] });
    expect(redirectedTo(await call(`${authorizePath()}&scope=openid`)).get('error')).toBe('invalid_request');
    const ok = await call(`${authorizePath()}&resource=https%3A%2F%2Fapi.one&resource=https%3A%2F%2Fapi.two`);
    expect(ok.status).toBe(200); // the sign-in page
  });

  it('keeps a registered query and adds to it; the error never goes to an unregistered URI', async () => {
    const { browser, authorizePath, signIn } = setup();
    // Signed in first: a third-party client's errors wait for it (RFC 9700 §4.11.2, test/redteam/authz-registered-redirector.test.ts).
    const b = browser();
    await signIn(b, await b.get(authorizePath()));
    const res = await b.get(authorizePath({ client_id: 'app', redirect_uri: `${APP}/other?keep=1`, response_type: 'token' }));
    expect(res.headers.get('location')).toMatch(/^https:\/\/app\.example\/other\?keep=1&error=unsupported_response_type&/);
  });

  it('a loopback redirect URI of a native app matches with any port (RFC 8252 §7.3)', async () => {
    const { call, authorizePath } = setup();
    const res = await call(authorizePath({ client_id: 'native', redirect_uri: 'http://127.0.0.1:51234/callback', response_type: 'x' }));
    expect(res.headers.get('location')).toMatch(/^http:\/\/127\.0\.0\.1:51234\/callback\?error=unsupported_response_type/);
    expect((await call(authorizePath({ client_id: 'native', redirect_uri: 'http://localhost:51234/callback' }))).status).toBe(400);
  });
});

describe('the code', () => {
  it('a 303 to the redirect URI with code, state and iss, the code bound to the request', async () => {
    const { browser, authorizePath, signIn, codeOf, challenge } = setup({ resources: ['https://api.one'] });
    const b = browser();
    const res = await signIn(b, await b.get(authorizePath({ nonce: 'n-1', resource: 'https://api.one' })));
    const q = redirectedTo(res);
    expect([...q.keys()].sort()).toEqual(['code', 'iss', 'state']);
    expect(q.get('state')).toBe('st-123');
    expect(q.get('iss')).toBe(ISSUER);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const opened = await codeOf(q);
    expect(opened?.grant).toMatchObject({
      clientId: 'first',
      redirectUri: CB,
      codeChallenge: challenge,
      userId: 'id-alice',
      scope: ['openid', 'profile'],
      resource: ['https://api.one'],
      nonce: 'n-1',
    });
  });

  it('no state sent, none returned; a scope not named gives what the user and client share', async () => {
    const { browser, authorizePath, signIn, codeOf } = setup();
    const b = browser();
    const q = redirectedTo(await signIn(b, await b.get(authorizePath({ state: undefined, scope: undefined }))));
    expect(q.has('state')).toBe(false);
    expect((await codeOf(q))?.grant.scope.sort()).toEqual(['openid', 'orders:read', 'profile']);
  });

  it('a scope the user may not have is invalid_scope after the sign-in', async () => {
    const { browser, authorizePath, signIn } = setup();
    const b = browser();
    const q = redirectedTo(await signIn(b, await b.get(authorizePath({ scope: 'orders:read' })), 'bob'));
    expect(q.get('error')).toBe('invalid_scope');
    expect(q.get('iss')).toBe(ISSUER);
  });

  it('POST /oauth/authorize takes the same request as a form', async () => {
    const { call, authorizePath } = setup();
    const query = authorizePath({ response_type: 'token' }).split('?')[1] as string;
    const res = await call('/oauth/authorize', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: query });
    expect(redirectedTo(res).get('error')).toBe('unsupported_response_type');
  });

  it('is a top-level navigation from the client site: not refused as cross-site', async () => {
    const { call, authorizePath } = setup();
    const res = await call(authorizePath(), { headers: { 'sec-fetch-site': 'cross-site' } });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('Sign in');
  });

  it('logs neither the code nor the state nor the query', async () => {
    const { browser, authorizePath, signIn, logs, challenge } = setup();
    const b = browser();
    const q = redirectedTo(await signIn(b, await b.get(authorizePath({ state: 'secret-state-value' }))));
    const all = logs.join('\n');
    expect(logs.length).toBeGreaterThan(0);
    for (const secret of [q.get('code') as string, 'secret-state-value', challenge, 'correct horse']) expect(all).not.toContain(secret);
  });
});

describe('metadata (RFC 8414)', () => {
  it('advertises the authorization endpoint, PAR, S256 and iss', async () => {
    const { call } = setup();
    const meta = await (await call('/.well-known/oauth-authorization-server')).json();
    expect(meta).toMatchObject({
      authorization_endpoint: `${ISSUER}/oauth/authorize`,
      pushed_authorization_request_endpoint: `${ISSUER}/oauth/par`,
      response_types_supported: ['code'],
      response_modes_supported: ['query'],
      grant_types_supported: ['authorization_code', 'refresh_token', 'client_credentials'],
      code_challenge_methods_supported: ['S256'],
      authorization_response_iss_parameter_supported: true,
    });
  });
});

describe('bounded costs', () => {
  it('a query longer than the handler body limit is a page (414); a form body beyond it is 413', async () => {
    const { call, authorizePath, browser } = setup({ maxBodyBytes: 2048 });
    const long = await call(authorizePath({ state: 's'.repeat(3000) }));
    expect(long.status).toBe(414);
    expect(long.headers.get('location')).toBeNull();
    const b = browser();
    await b.get(authorizePath());
    const big = await b.post('/oauth/authorize/sign-in', { txn: 'x', username: 'alice', password: 'p'.repeat(4000) });
    expect(big.status).toBe(413);
  });

  it('a state longer than 1024 characters is refused, and not echoed', async () => {
    const { call, authorizePath } = setup();
    const q = redirectedTo(await call(authorizePath({ state: 's'.repeat(1025) })));
    expect(q.get('error')).toBe('invalid_request');
    expect(q.has('state')).toBe(false);
  });
});

describe('staticClients: the code flow fields', () => {
  it('checks redirect URIs and flags when the handler is created', async () => {
    const { staticClients } = await import('baton-auth/http');
    expect(() => staticClients([{ id: 'a', redirectUris: ['javascript:alert(1)'] }])).toThrow();
    expect(() => staticClients([{ id: 'a', redirectUris: ['https://app.example/cb#frag'] }])).toThrow();
    expect(() => staticClients([{ id: 'a', redirectUris: ['http://app.example/cb'] }])).toThrow();
    expect(() => staticClients([{ id: 'a', firstParty: 'yes' as unknown as boolean }])).toThrow(/firstParty/);
    expect(() => staticClients([{ id: 'a', name: '' }])).toThrow(/name/);
    const registry = staticClients([
      { id: 'a', redirectUris: ['https://app.example/cb', 'http://127.0.0.1/cb', 'com.example.app:/cb'], requirePar: true, name: 'A' },
    ]);
    expect(await registry.get('a')).toMatchObject({
      redirectUris: ['https://app.example/cb', 'http://127.0.0.1/cb', 'com.example.app:/cb'],
      requirePar: true,
      name: 'A',
    });
  });
});

describe('law: the endpoint redirects only to a registered URI', () => {
  it('for any presented redirect_uri and any other parameters, a Location is only ever the registered URI (or a loopback one with a port)', async () => {
    const { default: fc } = await import('fast-check');
    const { call, authorizePath } = setup();
    const near = fc.constantFrom(
      CB,
      `${CB}/`,
      `${CB}?x=1`,
      `${CB}#f`,
      'https://app.example.evil/cb',
      'https://app.example@evil.example/cb',
      'HTTPS://APP.EXAMPLE/cb',
      'https://app.example/cb/../cb',
      'https://app.example/%63b',
      'http://127.0.0.1:8080/callback',
      'http://127.0.0.1:8080/callback/',
    );
    const uri = fc.oneof(near, fc.webUrl({ withQueryParameters: true, withFragments: true }), fc.string());
    await fc.assert(
      fc.asyncProperty(uri, fc.constantFrom('first', 'native', 'app'), fc.constantFrom('code', 'token', ''), async (redirectUri, clientId, responseType) => {
        const res = await call(authorizePath({ client_id: clientId, redirect_uri: redirectUri, response_type: responseType }));
        const location = res.headers.get('location');
        if (location === null) return;
        const registered =
          clientId === 'native'
            ? /^http:\/\/127\.0\.0\.1:\d+\/callback\?/.test(location) && location.startsWith(`${redirectUri}?`)
            : redirectUri === CB || (clientId === 'app' && redirectUri === `${APP}/other?keep=1`);
        expect(registered).toBe(true);
        expect(location.startsWith(`${redirectUri}?`)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

describe('openid on a ring that cannot sign ID tokens', () => {
  it('is invalid_scope at the authorization request, no code issued (an HS256 ring signs no ID token)', async () => {
    const s = setup({}, CLIENTS, { keys: [generateKey('HS256', 'hs-1')] });
    const b = s.browser();
    const q = redirectedTo(await s.signIn(b, await b.get(s.authorizePath({ scope: 'openid profile' }))));
    expect(q.get('error')).toBe('invalid_scope');
    expect(q.get('error_description')).toMatch(/no ID tokens.*without openid/);
    expect(q.get('code')).toBeNull();
    // Without openid, the same ring serves the flow.
    expect(redirectedTo(await b.get(s.authorizePath({ scope: 'profile' }))).get('code')).toBeTruthy();
  });
});
