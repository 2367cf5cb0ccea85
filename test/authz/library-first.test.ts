/**
 * Library-first: an app that keeps its own users hands the endpoint its signed-in user
 * (`currentUser`) and its sign-in page (`signInUrl`). No hosted sign-in is served; a browser
 * without a user goes to the app's page with a `returnTo` that resumes the transaction;
 * `prompt=login` and `max_age` compare the user's `authTime` with the transaction's start.
 */
import { describe, expect, it } from 'vitest';
import type { AuthorizationUser } from 'baton-auth/http';
import { ISSUER, redirectedTo, setup } from '../support/authz.ts';

const LOGIN = 'https://auth.test/login';

/** An app whose session is a cookie `app_user=<userId>.<authTime>`. */
function app() {
  const seen: string[] = [];
  const s = setup({
    authorization: {
      currentUser: async (request): Promise<AuthorizationUser | null> => {
        const m = /app_user=([\w-]+)\.(\d+)/.exec(request.headers.get('cookie') ?? '');
        return m ? { userId: m[1] as string, authTime: Number(m[2]), scope: 'profile orders:read' } : null;
      },
      signInUrl: (returnTo) => {
        seen.push(returnTo);
        return `${LOGIN}?return_to=${encodeURIComponent(returnTo)}`;
      },
    },
  });
  const now = () => Math.floor(s.clock.ms / 1000);
  return { ...s, seen, now };
}

describe('library-first (currentUser + signInUrl)', () => {
  it('without a user: 303 to your sign-in page; coming back with a user finishes the flow', async () => {
    const s = app();
    const b = s.browser();
    const res = await b.get(s.authorizePath({ nonce: 'n-9' }));
    expect(res.status).toBe(303);
    const location = new URL(res.headers.get('location') as string);
    expect(`${location.origin}${location.pathname}`).toBe(LOGIN);
    const returnTo = location.searchParams.get('return_to') as string;
    expect(returnTo.startsWith(`${ISSUER}/oauth/authorize?txn=`)).toBe(true);
    // Nothing of the request is readable in the URL: state, challenge and nonce are sealed.
    for (const secret of ['st-123', s.challenge, 'n-9']) expect(returnTo).not.toContain(secret);
    b.jar.set('app_user', `user-7.${s.now()}`);
    const q = redirectedTo(await b.get(returnTo));
    expect(q.get('state')).toBe('st-123');
    expect(q.get('iss')).toBe(ISSUER);
    expect((await s.codeOf(q))?.grant).toMatchObject({ userId: 'user-7', nonce: 'n-9', authTime: s.now(), clientId: 'first' });
  });

  it('serves no hosted sign-in', async () => {
    const s = app();
    const res = await s.call('/oauth/authorize/sign-in', {
      method: 'POST',
      headers: { origin: ISSUER, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'txn=x',
    });
    expect(res.status).toBe(404);
  });

  it('a signed-in user is answered at once; a third-party client still asks consent', async () => {
    const s = app();
    const b = s.browser();
    b.jar.set('app_user', `user-7.${s.now()}`);
    expect(redirectedTo(await b.get(s.authorizePath())).get('code')).toBeTruthy();
    const consent = await b.get(s.authorizePath({ client_id: 'app' }));
    expect(consent.status).toBe(200);
    expect(await consent.text()).toContain('Allow');
  });

  it('prompt=login: a sign-in from before the request sends the user to sign in again; one after it finishes', async () => {
    const s = app();
    const b = s.browser();
    b.jar.set('app_user', `user-7.${s.now() - 5}`);
    const res = await b.get(s.authorizePath({ prompt: 'login' }));
    expect(res.status).toBe(303);
    const returnTo = new URL(res.headers.get('location') as string).searchParams.get('return_to') as string;
    // Back without signing in again: sent to sign in again.
    expect((await b.get(returnTo)).headers.get('location')?.startsWith(LOGIN)).toBe(true);
    s.clock.advance(3000);
    b.jar.set('app_user', `user-7.${s.now()}`);
    expect(redirectedTo(await b.get(returnTo)).get('code')).toBeTruthy();
  });

  it('max_age and prompt=none', async () => {
    const s = app();
    const b = s.browser();
    b.jar.set('app_user', `user-7.${s.now() - 120}`);
    expect((await b.get(s.authorizePath({ max_age: '60' }))).headers.get('location')?.startsWith(LOGIN)).toBe(true);
    expect(redirectedTo(await b.get(s.authorizePath({ max_age: '600' }))).get('code')).toBeTruthy();
    const none = redirectedTo(await b.get(s.authorizePath({ max_age: '60', prompt: 'none' })));
    expect(none.get('error')).toBe('login_required');
    expect(none.get('iss')).toBe(ISSUER);
  });

  it('max_age=0 asks for a sign-in after the request, and one made after it (seconds later) finishes', async () => {
    const s = app();
    const b = s.browser();
    b.jar.set('app_user', `user-7.${s.now() - 1}`);
    const res = await b.get(s.authorizePath({ max_age: '0' }));
    expect(res.headers.get('location')?.startsWith(LOGIN)).toBe(true);
    const returnTo = new URL(res.headers.get('location') as string).searchParams.get('return_to') as string;
    s.clock.advance(5000);
    b.jar.set('app_user', `user-7.${s.now()}`);
    expect(redirectedTo(await b.get(returnTo)).get('code')).toBeTruthy();
  });

  it('a request with every field at its bound still fits its sealed transaction', async () => {
    const s = app();
    const b = s.browser();
    const big = {
      client_id: 'conf',
      state: 's'.repeat(1024),
      nonce: 'n'.repeat(256),
      scope: Array.from({ length: 400 }, (_, i) => `s${i}`)
        .join(' ')
        .slice(0, 2048)
        .trim(),
    };
    const res = await b.get(s.authorizePath(big));
    const returnTo = new URL(res.headers.get('location') as string).searchParams.get('return_to') as string;
    b.jar.set('app_user', `user-7.${s.now()}`);
    const q = await b.get(returnTo);
    expect(q.status).toBe(303);
    expect(new URL(q.headers.get('location') as string).searchParams.get('state')).toBe(big.state);
  });

  it('a tampered or expired returnTo is an error page', async () => {
    const s = app();
    const b = s.browser();
    const returnTo = new URL((await b.get(s.authorizePath())).headers.get('location') as string).searchParams.get('return_to') as string;
    b.jar.set('app_user', `user-7.${s.now()}`);
    const tampered = await b.get(returnTo.replace(/txn=(.)/, (_m, ch: string) => `txn=${ch === 'A' ? 'B' : 'A'}`));
    expect(tampered.status).toBe(400);
    expect(tampered.headers.get('location')).toBeNull();
    s.clock.advance(10 * 60_000 + 1);
    expect((await b.get(returnTo)).status).toBe(400);
  });

  it('needs both hooks, or neither', () => {
    expect(() => setup({ authorization: { signInUrl: () => '/login' } })).toThrow(/together/);
    expect(() => setup({ authorization: { codeTtl: 61 } })).toThrow(/60 s/);
  });
});
