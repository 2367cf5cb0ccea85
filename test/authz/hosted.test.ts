/**
 * The hosted sign-in page: what it shows, its headers (clickjacking, caching, form-action), its
 * CSRF protection, the login throttling, and the authorization-server session it opens — ended
 * with its Baton session — with `prompt` and `max_age`.
 */
import { describe, expect, it } from 'vitest';
import { createLoginProtection } from 'baton-auth/http';
import { Browser, CB, ISSUER, redirectedTo, setup, txnOf } from '../support/authz.ts';

const themed = { authorization: { page: { title: 'Example Sign-in', logoUrl: 'https://cdn.example/logo.svg', theme: { '--baton-accent': '#0a7' } } } } as const;

describe('the page', () => {
  it('is server-rendered HTML with labelled fields, a Sign in button, the logo and the theme, and no script', async () => {
    const { browser, authorizePath } = setup(themed);
    const res = await browser().get(authorizePath({ client_id: 'app' }));
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toMatch(/<label for="username">Username<\/label><input id="username" name="username"/);
    expect(html).toMatch(/<label for="password">Password<\/label><input id="password" name="password" type="password"/);
    expect(html).toContain('<button type="submit">Sign in</button>');
    expect(html).toContain('<img src="https://cdn.example/logo.svg"');
    expect(html).toContain(':root{--baton-accent:#0a7}');
    expect(html).toContain('Example Sign-in');
    expect(html).toContain('Shop &#60;App&#62;'); // the client's name, escaped
    expect(html).not.toMatch(/<script|\son[a-z]+=/i);
    expect(html).toMatch(/<form method="post" action="\/oauth\/authorize\/sign-in">/);
  });

  it('cannot be framed, cached or leak a referrer; its form goes only here and to the client (clickjacking)', async () => {
    const { browser, authorizePath } = setup();
    const res = await browser().get(authorizePath());
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("form-action 'self' https://app.example");
    expect(csp).not.toContain('script-src');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('referrer-policy')).toBe('same-origin');
    // The error pages and the 429 page too.
    const { call } = setup();
    const error = await call('/oauth/authorize?client_id=nobody');
    expect(error.headers.get('x-frame-options')).toBe('DENY');
    expect(error.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
  });

  it('a private-use scheme redirect URI is allowed as a form target by its scheme', async () => {
    const { browser, authorizePath } = setup({}, [{ id: 'default' }, { id: 'mobile', redirectUris: ['com.example.app:/cb'], firstParty: true }]);
    const res = await browser().get(authorizePath({ client_id: 'mobile', redirect_uri: 'com.example.app:/cb' }));
    expect(res.headers.get('content-security-policy')).toContain("form-action 'self' com.example.app:");
  });

  it('refuses a theme or logo that could break out of the page', () => {
    expect(() => setup({ authorization: { page: { theme: { '--x': 'red}body{' } } } })).toThrow(/CSS variable/);
    expect(() => setup({ authorization: { page: { logoUrl: 'javascript:alert(1)' } } })).toThrow(/logoUrl/);
    expect(() => setup({ authorization: { page: { logoUrl: 'http://cdn.example/x.png' } } })).toThrow(/logoUrl/);
  });

  it('refuses a variable the pages do not read (a typo would be silently ignored), naming those they read', async () => {
    expect(() => setup({ authorization: { page: { theme: { '--baton-acent': '#0a7' } } } })).toThrow(/no --baton-acent; they read --baton-accent, /);
    // The inputs follow the theme too (a dark page keeps readable fields).
    const { browser, authorizePath } = setup({ authorization: { page: { theme: { '--baton-input-background': '#222', '--baton-border': '#555' } } } });
    const html = await (await browser().get(authorizePath())).text();
    expect(html).toContain('--baton-input-background:#222;--baton-border:#555');
    expect(html).toContain('background:var(--baton-input-background,#fff);border:1px solid var(--baton-border,#8a939e)');
  });
});

describe('signing in', () => {
  it('a wrong password shows the page again with an error, and counts against loginProtection (429 when blocked)', async () => {
    const { browser, authorizePath, signIn } = setup({ loginProtection: createLoginProtection({ failures: { max: 2, blockMs: 60_000 } }) });
    const b = browser();
    const first = await signIn(b, await b.get(authorizePath()), 'alice', 'wrong');
    expect(first.status).toBe(401);
    const html = await first.text();
    expect(html).toContain('Wrong username or password.');
    expect(html).toContain('value="alice"');
    expect(first.headers.get('x-frame-options')).toBe('DENY');
    const second = await b.post('/oauth/authorize/sign-in', { txn: txnOf(html), username: 'alice', password: 'wrong' });
    expect(second.status).toBe(429);
    expect(Number(second.headers.get('retry-after'))).toBe(60);
    expect(await second.text()).toContain('Too many failed attempts');
    // Blocked: even the right password is refused now, without being checked.
    const third = await signIn(b, await b.get(authorizePath()), 'alice');
    expect(third.status).toBe(429);
    expect(third.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
  });

  it('the throttle is per username and address, shared with /auth/login', async () => {
    const protection = createLoginProtection({ failures: { max: 1, blockMs: 60_000 } });
    const { browser, authorizePath, signIn, call } = setup({ loginProtection: protection });
    const b = browser();
    expect((await signIn(b, await b.get(authorizePath()), 'alice', 'wrong')).status).toBe(429);
    const api = await call('/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'alice', password: 'correct horse' }),
    });
    expect(api.status).toBe(429);
  });

  it('an expired transaction (10 minutes) is refused with a page', async () => {
    const { browser, authorizePath, clock } = setup();
    const b = browser();
    const page = await b.get(authorizePath());
    const txn = txnOf(await page.text());
    clock.advance(10 * 60_000 + 1);
    const res = await b.post('/oauth/authorize/sign-in', { txn, username: 'alice', password: 'correct horse' });
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
  });
});

describe('CSRF on the sign-in form', () => {
  const attempt = async (mutate: (b: Browser, attacker: Browser) => Promise<Record<string, string>>) => {
    const { browser, authorizePath } = setup();
    const victim = browser();
    const attacker = browser();
    await victim.get(authorizePath());
    const page = await attacker.get(authorizePath());
    const txn = txnOf(await page.text());
    const headers = await mutate(victim, attacker);
    return victim.post('/oauth/authorize/sign-in', { txn, username: 'alice', password: 'correct horse' }, headers);
  };

  it("another browser's form (its CSRF cookie is not this one's) is refused", async () => {
    const res = await attempt(async () => ({}));
    expect(res.status).toBe(403);
    expect(res.headers.get('location')).toBeNull();
  });

  it('a post without the CSRF cookie is refused', async () => {
    const { browser, authorizePath } = setup();
    const b = browser();
    const txn = txnOf(await (await b.get(authorizePath())).text());
    b.jar.clear();
    const res = await b.post('/oauth/authorize/sign-in', { txn, username: 'alice', password: 'correct horse' });
    expect(res.status).toBe(403);
  });

  it('a post from another origin, or marked cross-site, or saying nothing of where it comes from, is refused', async () => {
    for (const headers of [{ origin: 'https://evil.example' }, { origin: '', 'sec-fetch-site': 'cross-site' }, { origin: '' }]) {
      const { browser, authorizePath } = setup();
      const b = browser();
      const txn = txnOf(await (await b.get(authorizePath())).text());
      const init = { ...headers } as Record<string, string>;
      if (init.origin === '') delete init.origin;
      const res = await b.call('/oauth/authorize/sign-in', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: b.cookieHeader(), ...init },
        body: new URLSearchParams({ txn, username: 'alice', password: 'correct horse' }).toString(),
      });
      expect(res.status).toBe(403);
      expect(res.headers.get('location')).toBeNull();
    }
  });

  it('the CSRF cookie is HttpOnly, SameSite=Strict and host-bound', async () => {
    const { browser, authorizePath } = setup();
    const res = await browser().get(authorizePath());
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith('__Host-baton_csrf='));
    expect(cookie).toMatch(/Path=\/; HttpOnly; SameSite=Strict; Secure/);
  });
});

describe('the authorization-server session', () => {
  it('a signed-in browser gets its code at once; the cookie is sealed, HttpOnly, SameSite=Lax', async () => {
    const { browser, authorizePath, signIn } = setup();
    const b = browser();
    const res = await signIn(b, await b.get(authorizePath()));
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith('__Host-baton_as='));
    expect(cookie).toMatch(/Path=\/; HttpOnly; SameSite=Lax; Secure; Max-Age=\d+/);
    expect(cookie).not.toContain('id-alice');
    expect(redirectedTo(await b.get(authorizePath())).get('code')).toBeTruthy();
  });

  it('ends with its Baton session: revoking the user sessions shows the sign-in page again', async () => {
    const { browser, authorizePath, signIn, baton } = setup();
    const b = browser();
    await signIn(b, await b.get(authorizePath()));
    await baton.revokeUserSessions('id-alice');
    const res = await b.get(authorizePath());
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('Sign in');
  });

  it('ends when that one session is revoked', async () => {
    const { browser, authorizePath, signIn, baton } = setup();
    const b = browser();
    await signIn(b, await b.get(authorizePath()));
    const [s] = await baton.listSessions('id-alice');
    await baton.revokeSession(s?.id as string);
    expect((await b.get(authorizePath())).status).toBe(200);
  });

  it('a forged or tampered cookie counts for nothing', async () => {
    const { browser, authorizePath, signIn } = setup();
    const b = browser();
    await signIn(b, await b.get(authorizePath()));
    const sealed = b.jar.get('__Host-baton_as') as string;
    b.jar.set('__Host-baton_as', `${sealed.slice(0, -2)}${sealed.endsWith('AA') ? 'BB' : 'AA'}`);
    expect((await b.get(authorizePath())).status).toBe(200);
  });

  it('prompt=login asks again; prompt=none without a session is login_required', async () => {
    const { browser, authorizePath, signIn, clock } = setup();
    const b = browser();
    await signIn(b, await b.get(authorizePath()));
    clock.advance(2000);
    const again = await b.get(authorizePath({ prompt: 'login' }));
    expect(again.status).toBe(200);
    expect(redirectedTo(await signIn(b, again)).get('code')).toBeTruthy();
    const none = redirectedTo(await browser().get(authorizePath({ prompt: 'none' })));
    expect(none.get('error')).toBe('login_required');
    expect(none.get('state')).toBe('st-123');
    expect(none.get('iss')).toBe(ISSUER);
    expect(redirectedTo(await b.get(authorizePath({ prompt: 'none' }))).get('code')).toBeTruthy();
  });

  it('max_age: a sign-in older than it asks again', async () => {
    const { browser, authorizePath, signIn, clock, codeOf } = setup();
    const b = browser();
    await signIn(b, await b.get(authorizePath()));
    clock.advance(30_000);
    expect(redirectedTo(await b.get(authorizePath({ max_age: '60' }))).get('code')).toBeTruthy();
    clock.advance(31_000);
    const page = await b.get(authorizePath({ max_age: '60' }));
    expect(page.status).toBe(200);
    const q = redirectedTo(await signIn(b, page));
    expect((await codeOf(q))?.grant.authTime).toBe(Math.floor(clock.ms / 1000));
    expect(redirectedTo(await b.get(authorizePath({ max_age: '60', prompt: 'none' })), CB).get('code')).toBeTruthy();
  });
});
