/**
 * Red team, `baton-auth/ssr` remote mode against a token service that answers out of shape (a
 * proxy in front of it rewriting bodies, a bug, a compromised instance): what it says goes into
 * `Set-Cookie` and into the page. A token is written as a cookie only when every character is a
 * cookie-octet (RFC 6265 §4.1.1): no `;`, `,`, `"`, `\`, whitespace, control or non-ASCII character —
 * a non-Latin-1 one made the app's own response unsendable (every render a 500 while the memo holds
 * it), a `"` or `\` is read differently by different parsers. A session-end reason is a word.
 */
import { describe, expect, it } from 'vitest';
import { createServerSession } from 'baton-auth/ssr';

/** A service at a loopback URL that answers every POST with `body` (and 404 otherwise). */
function service(body: unknown, status = 200): { fetch: typeof fetch; calls: () => number } {
  let calls = 0;
  const fetcher: typeof fetch = async (_input, init) => {
    if (init?.method !== 'POST') return new Response('{}', { status: 404 });
    calls++;
    return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  };
  return { fetch: fetcher, calls: () => calls };
}

const pair = (access: string, refresh: string) => ({ access_token: access, refresh_token: refresh, token_type: 'Bearer', expires_in: 60 });
const sessionOf = (s: { fetch: typeof fetch }) => createServerSession({ issuer: 'http://127.0.0.1:9', clientId: 'web', fetch: s.fetch, timeoutMs: 500 });

describe('a service answering out of shape', () => {
  for (const [label, access, refresh] of [
    ['a non-Latin-1 access token', 'eyJ.tok\u0101n.sig', 'rt-ok'],
    ['a Latin-1 letter in the refresh token', 'eyJ.ok.sig', 'rt-\u00e9'],
    ['a double quote', 'eyJ."x".sig', 'rt-ok'],
    ['a backslash', 'eyJ.ok.sig', 'rt\\x'],
    ['a control character', 'eyJ.ok\u0001.sig', 'rt-ok'],
  ] as const) {
    it(`${label}: not written as a cookie; the session kept, unavailable`, async () => {
      const s = service(pair(access, refresh));
      const session = sessionOf(s);
      const outcome = await session.refresh('__Host-baton_rt=the-real-one');
      session.close();
      expect([outcome.state.status, outcome.setCookies]).toEqual(['unavailable', []]);
      expect(s.calls()).toBe(1);
    });
  }

  it('a session_end reason with markup or a cookie attribute: signed out with no reason, none written, none shown', async () => {
    for (const reason of ['<img src=x onerror=alert(1)>', 'logout; Domain=evil.example', 'x'.repeat(41), 'Logout']) {
      const session = sessionOf(service({ error: 'invalid_grant', session_end: { reason, at: 1 } }, 400));
      const outcome = await session.refresh('__Host-baton_rt=rt');
      session.close();
      expect(outcome.state).toMatchObject({ status: 'signed-out', reason: null });
      expect(outcome.setCookies.join('\n')).not.toContain('baton_end');
      expect(JSON.stringify(session.snapshot(outcome.state))).not.toMatch(/[<>]|Domain|xxxx/);
    }
  });
});
