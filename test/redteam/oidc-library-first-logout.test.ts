/**
 * Red team: RP-initiated logout in library-first mode (`currentUser`). The browser's session at the
 * provider is the app's own; end-session revoked the hint's Baton session and said "You are signed
 * out" (or sent the browser back to the client), while the app's session lived on: on a shared
 * computer the next person's "Sign in" at any client signed them in as the previous user, with no
 * password asked. The app had no way to know a sign-out was asked. `authorization.signOut` now
 * ends it: called when end-session signs the browser's user out, its cookies sent with the answer.
 */
import { describe, expect, it } from 'vitest';
import { BatonConfigError, generateKey } from 'baton-auth';
import { createAuthHandler } from 'baton-auth/http';
import type { AuthorizationUser } from 'baton-auth/http';
import { idToken } from '../../packages/baton-auth/src/authz/id-token.ts';
import type { HandlerContext } from '../../packages/baton-auth/src/http/context.ts';
import { ISSUER, makeBaton } from '../support/baton.ts';
import { setup } from '../support/authz.ts';

const CLEAR = 'app_user=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Lax';

/** An app whose session is a cookie `app_user=<userId>.<authTime>`, ended by `signOut`. */
function app() {
  const ended: string[] = [];
  const s = setup(
    {
      authorization: {
        currentUser: async (request): Promise<AuthorizationUser | null> => {
          const m = /app_user=([\w-]+)\.(\d+)/.exec(request.headers.get('cookie') ?? '');
          return m ? { userId: m[1] as string, authTime: Number(m[2]), scope: 'profile' } : null;
        },
        signInUrl: (returnTo) => `${ISSUER}/login?next=${encodeURIComponent(returnTo)}`,
        signOut: async (request) => {
          ended.push(/app_user=([\w-]+)/.exec(request.headers.get('cookie') ?? '')?.[1] ?? '');
          return [CLEAR];
        },
      },
    },
    [{ id: 'web', redirectUris: ['https://app.example/cb'], postLogoutRedirectUris: ['https://app.example/bye'], firstParty: true }],
    { keys: [generateKey('EdDSA', 'ed-1')] },
  );
  const hint = async (userId: string) => {
    const rp = await s.baton.login(userId, { clientId: 'web', scope: 'openid' });
    return idToken({ baton: s.baton, issuer: ISSUER } as HandlerContext, { userId, clientId: 'web', authTime: 1, sid: rp.session_id, scope: ['openid'] });
  };
  return { ...s, ended, hint };
}

describe('end-session in library-first mode', () => {
  it('with the hint of the browser’s user: the app’s session is ended too (its cookie cleared), then the redirect', async () => {
    const s = app();
    const b = s.browser();
    b.jar.set('app_user', 'user-7.1');
    const res = await b.get(
      `/oauth/end-session?${new URLSearchParams({ id_token_hint: await s.hint('user-7'), post_logout_redirect_uri: 'https://app.example/bye' })}`,
    );
    expect(res.status).toBe(303);
    expect(res.headers.getSetCookie()).toContain(CLEAR);
    expect(s.ended).toEqual(['user-7']);
    expect(await s.baton.listSessions('user-7')).toHaveLength(0);
  });

  it('without a hint: only the confirmation form posted from this site ends it', async () => {
    const s = app();
    const b = s.browser();
    b.jar.set('app_user', 'user-7.1');
    const page = await b.get('/oauth/end-session?client_id=web');
    expect(page.status).toBe(200);
    expect(s.ended).toEqual([]);
    const logout = /name="logout" value="([^"]+)"/.exec(await page.text())?.[1] ?? '';
    const done = await b.post('/oauth/end-session/confirm', { logout });
    expect(done.status).toBe(200);
    expect(done.headers.getSetCookie()).toContain(CLEAR);
    expect(s.ended).toEqual(['user-7']);
  });

  it('another user’s hint, or no signed-in user: the app’s session is not touched', async () => {
    const s = app();
    const b = s.browser();
    b.jar.set('app_user', 'user-7.1');
    await b.get(`/oauth/end-session?${new URLSearchParams({ id_token_hint: await s.hint('user-8') })}`);
    await s.browser().get(`/oauth/end-session?${new URLSearchParams({ id_token_hint: await s.hint('user-7') })}`);
    expect(s.ended).toEqual([]);
  });

  it('signOut without currentUser is a configuration mistake', () => {
    expect(() => createAuthHandler({ baton: makeBaton().baton, authenticate: async () => null, authorization: { signOut: async () => [] } })).toThrow(
      BatonConfigError,
    );
  });
});
