/**
 * Red team, `baton-auth/next`: a cookie planted by a sibling subdomain (`Domain=.example.com`, any
 * name but a `__Host-` one) whose value is percent-encoded `; __Host-baton_rt=…`. Next's cookie store
 * decodes values; rebuilding a Cookie header from it by joining `name=value` turned that one cookie
 * into a `__Host-` token cookie the browser never had — the `__Host-` prefix bypassed: the attacker's
 * session fixed in the victim's browser (`withRefresh` writes it back as real `__Host-` cookies), or
 * `auth()` answering the attacker's identity.
 */
import { describe, expect, it } from 'vitest';
import { createBatonNext } from 'baton-auth/next';
import { makeBaton } from '../support/baton.ts';
import { actionCookies, header, jar } from '../next/support.ts';

const authenticate = async (u: string, p: string) => (u === 'mallory' && p === 'mallory password 1' ? { userId: 'user-mallory' } : null);

function app() {
  const { baton, clock } = makeBaton({ accessTokenTtl: 60 });
  let action = actionCookies(null);
  const next = createBatonNext({ baton, authenticate, now: clock.now, cookieStore: async () => action.store });
  const requestWith = (cookie: string | null) => (action = actionCookies(cookie));
  const attacker = async () => jar((await next.core.signIn({ username: 'mallory', password: 'mallory password 1' })).setCookies);
  return { clock, next, requestWith, written: () => action.setCookies(), attacker };
}

describe('a planted cookie whose encoded value holds another cookie', () => {
  it('withRefresh does not read a __Host- refresh cookie out of another cookie, nor write the attacker a session', async () => {
    const { next, requestWith, written, attacker } = app();
    const tokens = await attacker();
    const planted = `theme=${encodeURIComponent(`x; __Host-baton_rt=${tokens['__Host-baton_rt']}`)}`;
    requestWith(planted);
    const state = await next.withRefresh(async (s) => s);
    expect(state.status).toBe('signed-out');
    expect(Object.keys(jar(written()))).not.toContain('__Host-baton_rt');
  });

  it('auth() does not answer the identity of an access token smuggled inside another cookie', async () => {
    const { next, requestWith, attacker } = app();
    const tokens = await attacker();
    requestWith(`theme=${encodeURIComponent(`x; __Host-baton_at=${tokens['__Host-baton_at']}`)}`);
    expect((await next.auth()).status).toBe('signed-out');
  });

  it("the victim's own session is neither replaced nor signed out by one planted beside it", async () => {
    const { next, requestWith, written, attacker } = app();
    const mine = await attacker(); // stands for the victim's own pair
    const other = await attacker();
    requestWith(`${header(mine)}; theme=${encodeURIComponent(`x; __Host-baton_rt=${other['__Host-baton_rt']}`)}`);
    const state = await next.withRefresh(async (s) => s);
    expect(state.status).toBe('signed-in');
    expect(written()).toEqual([]);
  });
});
