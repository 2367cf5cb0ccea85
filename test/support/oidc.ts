/**
 * A handler for the OpenID Connect tests (test/authz/): a Baton on a memory store with one signing
 * key of `alg`, users alice and bob, clients with post-logout redirect URIs, and shortcuts to call it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createBaton, generateKey } from 'baton-auth';
import type { Baton, SigningAlg } from 'baton-auth';
import { createAuthHandler, staticClients } from 'baton-auth/http';
import type { AuthHandlerOptions } from 'baton-auth/http';
import { memoryStore } from 'baton-auth/stores/memory';
import type { HandlerContext } from '../../packages/baton-auth/src/http/context.ts';

export const ISSUER = 'https://auth.test';

export function oidcSetup(alg: SigningAlg = 'EdDSA', overrides: Partial<AuthHandlerOptions> & { issuer?: string } = {}) {
  const issuer = overrides.issuer ?? ISSUER;
  const baton: Baton = createBaton({ issuer, keys: [generateKey(alg, `${alg}-1`)], refreshTokenSecret: randomBytes(32), store: memoryStore() });
  const users: Record<string, string> = { alice: 'correct horse', bob: 'battery staple' };
  const handler = createAuthHandler({
    baton,
    authenticate: async (u, p) => (users[u] === p ? { userId: `id-${u}`, scope: 'openid profile email' } : null),
    clients: staticClients([
      { id: 'default' },
      {
        id: 'web',
        name: 'The App',
        scopes: ['openid', 'profile', 'email'],
        redirectUris: ['https://app.test/cb'],
        postLogoutRedirectUris: ['https://app.test/bye', 'https://app.test/bye?from=idp'],
        firstParty: true,
      },
      { id: 'other', scopes: ['openid'], redirectUris: ['https://other.test/cb'], postLogoutRedirectUris: ['https://other.test/bye'], firstParty: true },
    ]),
    scopes: ['openid', 'profile', 'email'],
    ...overrides,
  });
  const call = (path: string, init: RequestInit = {}) => handler(new Request(`${issuer}${path}`, init), { ip: '203.0.113.7' });
  /** What `idToken` reads of the handler's context: the engine and the issuer. */
  const context = { baton, issuer } as HandlerContext;
  return { baton, handler, call, context, issuer };
}

/** The `name=value` of a `Set-Cookie` header's cookie called `name`, or undefined. */
export function setCookie(res: Response, name: string): string | undefined {
  return res.headers.getSetCookie().find((h) => h.startsWith(`${name}=`));
}

const pair = (header: string | undefined): string => (header ?? '').split(';')[0] as string;

/**
 * Signs `user` in on the hosted page as a browser does: the authorization request (PKCE, client
 * `web`), the sign-in form posted back with its CSRF cookie. Returns the browser's cookies after
 * it (`Cookie` header: the CSRF cookie and the authorization-server session's) and the redirect.
 * `request`: the authorization request's URL, when the test built it (a client library did).
 */
export async function hostedSignIn(
  s: ReturnType<typeof oidcSetup>,
  user: 'alice' | 'bob',
  password = user === 'alice' ? 'correct horse' : 'battery staple',
  request?: URL,
) {
  const challenge = createHash('sha256').update('v'.repeat(43)).digest('base64url');
  const query = new URLSearchParams({
    response_type: 'code',
    client_id: 'web',
    redirect_uri: 'https://app.test/cb',
    scope: 'openid profile',
    state: 's1',
    nonce: 'n1',
    code_challenge: challenge,
    code_challenge_method: 'S256',
  });
  const page = request === undefined ? await s.call(`/oauth/authorize?${query}`) : await s.handler(new Request(request));
  const html = await page.text();
  const txn = /name="txn" value="([^"]+)"/.exec(html)?.[1];
  if (page.status !== 200 || txn === undefined) throw new Error(`no sign-in page: ${page.status}`);
  const csrf = pair(setCookie(page, '__Host-baton_csrf'));
  const res = await s.call('/oauth/authorize/sign-in', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: new URL(s.issuer).origin, cookie: csrf },
    body: new URLSearchParams({ txn, username: user, password }).toString(),
  });
  const as = pair(setCookie(res, '__Host-baton_as'));
  if (as === '') throw new Error(`no session cookie: ${res.status} ${await res.text()}`);
  return { cookie: `${csrf}; ${as}`, csrf, as, location: res.headers.get('location') };
}
