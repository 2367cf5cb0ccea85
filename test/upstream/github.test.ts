/**
 * Sign-in with GitHub (issue #27): GitHub is OAuth 2.0, not OpenID Connect — no discovery, no ID
 * token — and says who the person is through its REST API. The provider here is a small local
 * stand-in speaking GitHub's documented API shapes (docs.github.com: "Authorizing OAuth apps" —
 * `/login/oauth/authorize`, `/login/oauth/access_token` answering JSON to `Accept: application/json`,
 * PKCE S256 — and "REST API endpoints for users": `/user`, `/user/emails` with `primary` and
 * `verified`), on the paths of a GitHub Enterprise Server (`<issuer>/api/v3`): that API is the real
 * component, and the handler (`createAuthHandler`, in-process) walks the code flow with it.
 *
 * And the callback's binding to this browser (login CSRF, RFC 6749 §10.12): an answer delivered to
 * another browser — one that started its own sign-in, or none — is refused; a start link works
 * only from the page shown in this browser (its CSRF cookie) and from this site.
 */
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { upstreamProvider } from 'baton-auth/http';
import type { UpstreamIdentity } from 'baton-auth/http';
import { CB, ISSUER, redirectedTo, setup } from '../support/authz.ts';
import type { Browser } from '../support/authz.ts';

interface StandIn {
  base: string;
  server: Server;
  /** The primary email's `verified`, as the next `/user/emails` says it. */
  verified: boolean;
  /** What the token endpoint was sent, last. */
  tokenRequests: URLSearchParams[];
  /** While set, the token endpoint holds its answers here (a slow GitHub). */
  held: (() => void)[] | undefined;
}

/** GitHub's OAuth endpoints and user API, as documented, for one app and one person (octocat). */
async function gitHubStandIn(): Promise<StandIn> {
  const challenges = new Map<string, string>();
  let issued = 0;
  const self: StandIn = { base: '', server: createServer(), verified: true, tokenRequests: [], held: undefined };
  self.server.on('request', (req, res) => {
    const url = new URL(req.url ?? '/', self.base);
    const send = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(body));
    if (url.pathname === '/login/oauth/authorize') {
      // The person approves at once: back to the app with `code` and `state` (GitHub sends no `iss`).
      const code = `gh-code-${issued++}`;
      challenges.set(code, url.searchParams.get('code_challenge') ?? '');
      const back = new URL(url.searchParams.get('redirect_uri') as string);
      back.searchParams.set('code', code);
      back.searchParams.set('state', url.searchParams.get('state') as string);
      return void res.writeHead(302, { location: back.href }).end();
    }
    if (url.pathname === '/login/oauth/access_token' && req.method === 'POST') {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        if (self.held !== undefined) return void self.held.push(() => send(200, { error: 'bad_verification_code' }));
        const f = new URLSearchParams(body);
        self.tokenRequests.push(f);
        const challenge = challenges.get(f.get('code') ?? '');
        challenges.delete(f.get('code') ?? '');
        const pkce = createHash('sha256')
          .update(f.get('code_verifier') ?? '')
          .digest('base64url');
        if (challenge === undefined || pkce !== challenge || f.get('client_secret') !== 'github-app-secret')
          return send(200, { error: 'bad_verification_code', error_description: 'The code passed is incorrect or expired.' }); // GitHub's 200 error
        send(200, { access_token: 'gho_standin', token_type: 'bearer', scope: 'read:user,user:email' });
      });
      return;
    }
    if (req.headers.authorization !== 'Bearer gho_standin') return send(401, { message: 'Bad credentials' });
    if (url.pathname === '/api/v3/user') return send(200, { login: 'octocat', id: 583231, name: 'The Octocat', email: null });
    if (url.pathname === '/api/v3/user/emails')
      return send(200, [
        { email: 'octocat@users.noreply.example', primary: false, verified: true, visibility: null },
        { email: 'octo@example.com', primary: true, verified: self.verified, visibility: 'public' },
      ]);
    send(404, { message: 'Not Found' });
  });
  await new Promise<void>((r) => self.server.listen(0, '127.0.0.1', r));
  self.base = `http://127.0.0.1:${(self.server.address() as AddressInfo).port}`;
  return self;
}

describe('sign-in with GitHub (OAuth 2.0 and its user API) through the handler', () => {
  let gh: StandIn;
  beforeAll(async () => {
    gh = await gitHubStandIn();
  });
  afterAll(() => new Promise<void>((r) => gh.server.close(() => r())));

  function withGitHub() {
    const seen: UpstreamIdentity[] = [];
    const github = upstreamProvider({ name: 'github', preset: 'github', issuer: gh.base, clientId: 'Iv1.standin', clientSecret: 'github-app-secret' });
    const user = async (i: UpstreamIdentity) => (seen.push(i), { userId: `gh-${i.subject}`, username: i.username as string, scope: 'profile' });
    const t = setup({ authorization: { providers: { list: async () => [github], user } } });
    return { ...t, seen };
  }

  /** The hosted sign-in page for `b`, and its "Continue with GitHub" link (the start URL). */
  async function startLink(t: ReturnType<typeof withGitHub>, b: Browser): Promise<string> {
    const page = await b.get(t.authorizePath());
    const html = await page.text();
    const m = /<a class="provider" href="([^"]+)">Continue with GitHub<\/a>/.exec(html);
    expect(m, 'a "Continue with GitHub" link').not.toBeNull();
    return (m as RegExpExecArray)[1]?.replaceAll('&amp;', '&') as string;
  }

  /** From the start link to the URL GitHub sends the browser back to (not yet followed). */
  async function toGitHubAndBack(b: Browser, link: string): Promise<string> {
    const start = await b.get(link);
    expect(start.status).toBe(303);
    const authorize = new URL(start.headers.get('location') as string);
    expect(authorize.origin + authorize.pathname).toBe(`${gh.base}/login/oauth/authorize`);
    expect(Object.fromEntries(authorize.searchParams)).toMatchObject({
      client_id: 'Iv1.standin',
      redirect_uri: `${ISSUER}/auth/providers/github/callback`,
      scope: 'read:user user:email',
      code_challenge_method: 'S256',
      state: expect.stringMatching(/^[\w-]{43}$/),
    });
    expect(authorize.searchParams.has('nonce')).toBe(false); // OAuth 2.0: no ID token
    const back = await fetch(authorize, { redirect: 'manual' });
    return back.headers.get('location') as string;
  }

  it('signs in: the numeric id is the subject, the verified primary email is verified, and the code flow goes on', async () => {
    const t = withGitHub();
    const b = t.browser();
    const callback = await toGitHubAndBack(b, await startLink(t, b));
    const done = await b.get(callback);
    const q = redirectedTo(done, CB);
    expect(q.get('state')).toBe('st-123');
    expect((await t.codeOf(q))?.grant.userId).toBe('gh-583231');
    expect(t.seen).toEqual([
      { provider: 'github', issuer: gh.base, subject: '583231', email: 'octo@example.com', emailVerified: true, username: 'octocat', name: 'The Octocat' },
    ]);
    expect(gh.tokenRequests.at(-1)?.get('code_verifier')).toMatch(/^[\w-]{43,}$/); // PKCE, checked by the stand-in
    expect(b.jar.has('__Host-baton_up')).toBe(false); // the transaction is spent
    expect(t.logs.join('\n')).not.toMatch(/gho_standin|gh-code-/); // no token or code in a log
  });

  it('an unverified primary email is no email at all: emailVerified false, nothing to link with', async () => {
    const t = withGitHub();
    gh.verified = false;
    try {
      const b = t.browser();
      redirectedTo(await b.get(await toGitHubAndBack(b, await startLink(t, b))), CB);
      expect(t.seen[0]).toMatchObject({ subject: '583231', emailVerified: false });
      expect(t.seen[0]?.email).toBeUndefined();
    } finally {
      gh.verified = true;
    }
  });

  it("login CSRF: GitHub's answer for one browser, delivered to another, is refused — whether that one started a sign-in or not", async () => {
    const t = withGitHub();
    const attacker = t.browser();
    const theirs = await toGitHubAndBack(attacker, await startLink(t, attacker)); // the attacker's own code and state
    const victim = t.browser();
    await toGitHubAndBack(victim, await startLink(t, victim)); // the victim's own sign-in, in progress
    const refused = await victim.get(theirs);
    expect(refused.status).toBe(400);
    expect(await refused.text()).toContain('does not belong to the sign-in this browser started');
    const fresh = t.browser();
    const none = await fresh.get(theirs);
    expect(none.status).toBe(400);
    expect(await none.text()).toContain('expired or did not start in this browser');
    expect(t.seen).toEqual([]);
    expect(gh.tokenRequests.filter((f) => f.get('code') === new URL(theirs).searchParams.get('code'))).toEqual([]); // never redeemed
  });

  it('a start link works only in the browser the page was shown to, and only from this site', async () => {
    const t = withGitHub();
    const shown = t.browser();
    const link = await startLink(t, shown);
    const other = t.browser(); // no CSRF cookie of that page
    const refused = await other.get(link);
    expect(refused.status).toBe(403);
    expect(await refused.text()).toContain('was not shown in this browser');
    const crossSite = await shown.get(link, { 'sec-fetch-site': 'cross-site' });
    expect(crossSite.status).toBe(403);
    expect((await shown.get(link)).status).toBe(303);
  });

  it('a callback replayed by a script reaches GitHub at most 32 times at once; the rest are refused at once, not queued', async () => {
    const t = withGitHub();
    const b = t.browser();
    const callback = await toGitHubAndBack(b, await startLink(t, b));
    const cookie = b.cookieHeader();
    gh.held = [];
    try {
      // From 40 addresses (one address has at most 4 at once: test/redteam/rt-providers.test.ts).
      const answers = Array.from({ length: 40 }, (_, i) => t.call(callback.slice(ISSUER.length), { headers: { cookie } }, `203.0.113.${i + 1}`));
      const refused = await Promise.all(answers.slice(32));
      for (const r of refused) {
        expect(r.status).toBe(502);
        expect(await r.text()).toContain('Too many sign-ins with GitHub are under way right now.');
      }
      await vi.waitFor(() => expect(gh.held).toHaveLength(32));
      for (const release of gh.held) release();
      // GitHub refuses a spent code with a 200 and an `error` member: an answer that fails openid-client's checks.
      for (const r of await Promise.all(answers.slice(0, 32))) expect(r.status).toBe(400);
    } finally {
      gh.held = undefined;
    }
  });

  it("from the service's own page: a DPoP-bound session in the refresh cookie, and back to the one fixed place whatever the start asked", async () => {
    const t = withGitHub();
    const b = t.browser();
    const jkt = 'A'.repeat(43);
    const start = `/auth/providers/github/start?dpop_jkt=${jkt}&return_to=${encodeURIComponent('https://evil.example/')}&redirect_uri=${encodeURIComponent('https://evil.example/')}`;
    const done = await b.get(await toGitHubAndBack(b, start));
    expect(done.status).toBe(303);
    expect(done.headers.get('location')).toBe(`${ISSUER}/#signed-in`);
    const rt = done.headers.getSetCookie().find((c) => c.startsWith('__Host-baton_rt='));
    expect(rt).toMatch(/HttpOnly; SameSite=Strict; Secure/);
    const [session] = await t.baton.listSessions('gh-583231');
    expect(session?.device).toMatchObject({ method: 'provider', provider: 'github' });
    // Bound to the page's key: refreshing without a proof by it is refused (RFC 9449 §5).
    const refresh = await t.call('/oauth/token', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: (rt as string).split(';')[0]?.split('=')[1] as string }).toString(),
    });
    expect(refresh.status).toBe(400);
    expect(await refresh.text()).toContain('bound to a DPoP key');
  });

  it('password sign-ins say so too: method password on the audit event and the device', async () => {
    const events: { type: string; method?: string }[] = [];
    const t = setup({}, undefined, { audit: (e) => events.push(e) });
    const b = t.browser();
    const hosted = await t.signIn(b, await b.get(t.authorizePath()));
    expect(hosted.status).toBe(303);
    const api = await t.call('/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'bob', password: 'battery staple' }),
    });
    expect(api.status).toBe(200);
    expect(events.filter((e) => e.type === 'login.succeeded').map((e) => e.method)).toEqual(['password', 'password']);
    expect((await t.baton.listSessions('id-bob'))[0]?.device.method).toBe('password');
  });

  it('a transaction past its 10 minutes is refused with a sentence, and GitHub is not asked', async () => {
    const t = withGitHub();
    const b = t.browser();
    const callback = await toGitHubAndBack(b, await startLink(t, b));
    const asked = gh.tokenRequests.length;
    t.clock.advance(10 * 60_000 + 1000);
    const late = await b.get(callback);
    expect(late.status).toBe(400);
    expect(await late.text()).toContain('This sign-in with GitHub expired or did not start in this browser. Start again.');
    expect(gh.tokenRequests.length).toBe(asked);
  });

  it('an unknown provider, and a provider error (access_denied), are pages with a sentence', async () => {
    const t = withGitHub();
    const b = t.browser();
    const unknown = await b.get('/auth/providers/nope/start');
    expect(unknown.status).toBe(404);
    expect(await unknown.text()).toContain('There is no such sign-in provider here.');
    const callback = new URL(await toGitHubAndBack(b, await startLink(t, b)));
    callback.searchParams.delete('code');
    callback.searchParams.set('error', 'access_denied');
    callback.searchParams.set('error_description', '<script>alert(1)</script>');
    const denied = await b.get(callback.href);
    expect(denied.status).toBe(403);
    const text = await denied.text();
    expect(text).toContain('The sign-in with GitHub was cancelled (access_denied).');
    expect(text).not.toContain('<script>');
  });
});
