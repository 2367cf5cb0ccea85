/**
 * `baton-auth-client/react` on the server (react-dom/server, no DOM) and the route answers it
 * takes: the server render shows the snapshot it is given and fetches nothing; the hooks need the
 * provider; answers are checked for their shape (a property over any JSON) and read to a bound.
 * The browser side is test/e2e/react-*.test.ts.
 */
import fc from 'fast-check';
import { createElement as h } from 'react';
import { renderToString } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { BatonSessionProvider, useAccessToken, useSession } from 'baton-auth-client/react';
import type { SessionSnapshot } from 'baton-auth-client/react';
import { parseSessionSnapshot as parseSnapshot } from 'baton-auth/protocol';
import { MAX_ANSWER_BYTES, readSnapshot, readToken } from '../../packages/baton-auth-client/src/react/wire.ts';
import { App } from '../fixtures/react-app.ts';

const signedIn: SessionSnapshot = { status: 'signed-in', sub: 'u-1', name: 'Lena', scope: 'read', expiresAt: Date.now() + 60_000 };

describe('server render', () => {
  it.each([
    [signedIn, 'Signed in as Lena'],
    [{ status: 'signed-in', sub: 'u-2', scope: '', expiresAt: 1 } as SessionSnapshot, 'Signed in as u-2'],
    [{ status: 'signed-out', reason: 'reuse_detected', description: 'Signed out for your safety.' } as SessionSnapshot, 'Signed out: reuse_detected'],
    [{ status: 'signed-out', reason: null, description: 'Not signed in.' } as SessionSnapshot, 'Signed out: never signed in'],
    [undefined, 'Loading'],
    // The server could not reach the token service (baton-auth/ssr keeps the session): nothing known yet.
    [{ status: 'unavailable', reason: 'unavailable', description: 'Try again.' } as SessionSnapshot, 'Loading'],
  ])('renders the snapshot it is given: %j', (session, text) => {
    const html = renderToString(h(App, { session, accessToken: true }));
    expect(html).toContain(`<p id="status">${text}</p>`);
    expect(html).toContain('<p id="token">none</p>'); // no token on the server, nor at hydration
  });

  it('the hooks outside the provider fail with a sentence that says where to put it', () => {
    const Lost = () => h('p', null, useSession().status);
    expect(() => renderToString(h(Lost))).toThrow(
      expect.objectContaining({ code: 'ERR_CONFIG', message: expect.stringMatching(/useSession\(\) is used outside <BatonSessionProvider>/) }),
    );
    const LostToken = () => h('p', null, useAccessToken().token);
    expect(() => renderToString(h(LostToken))).toThrow(/useAccessToken\(\) is used outside/);
  });

  it('getToken() during a server render rejects (ERR_CONFIG) instead of fetching', async () => {
    let getToken: (() => Promise<string>) | undefined;
    const Grab = () => {
      getToken = useAccessToken().getToken;
      return null;
    };
    renderToString(h(BatonSessionProvider, { session: signedIn }, h(Grab)));
    await expect((getToken as () => Promise<string>)()).rejects.toMatchObject({ code: 'ERR_CONFIG', message: expect.stringMatching(/runs in the browser/) });
  });

  it('a signed-out session rejects getToken() with the reason (SessionEndedError) or NotSignedInError', async () => {
    const tokens: (() => Promise<string>)[] = [];
    const Grab = () => {
      tokens.push(useAccessToken().getToken);
      return null;
    };
    renderToString(h(BatonSessionProvider, { session: { status: 'signed-out', reason: 'revoked', description: 'Revoked.' } }, h(Grab)));
    renderToString(h(BatonSessionProvider, { session: { status: 'signed-out', reason: null, description: 'Not signed in.' } }, h(Grab)));
    await expect(tokens[0]?.()).rejects.toMatchObject({ code: 'ERR_SESSION_ENDED', sessionEnd: { reason: 'revoked' }, message: 'Revoked.' });
    await expect(tokens[1]?.()).rejects.toMatchObject({ code: 'ERR_NOT_SIGNED_IN' });
  });
});

const snapshotArb: fc.Arbitrary<SessionSnapshot> = fc.oneof(
  fc.record(
    { status: fc.constant('signed-in' as const), sub: fc.string({ minLength: 1 }), name: fc.string(), scope: fc.string(), expiresAt: fc.integer() },
    { requiredKeys: ['status', 'sub', 'scope', 'expiresAt'] },
  ),
  fc.record({
    status: fc.constant('signed-out' as const),
    reason: fc.option(fc.stringMatching(/^[a-z][a-z0-9_]{0,39}$/), { nil: null }),
    description: fc.string({ maxLength: 512 }),
  }),
);

describe('session snapshots from the wire', () => {
  it('a snapshot survives JSON unchanged (law: parse ∘ serialize = id)', () => {
    fc.assert(
      fc.property(snapshotArb, (s) => {
        expect(parseSnapshot(JSON.parse(JSON.stringify(s)))).toEqual(s);
      }),
    );
  });

  it('any JSON value is a snapshot with only its own fields, or refused — never a throw, never a token carried along', () => {
    const allowed = new Set(['status', 'sub', 'name', 'scope', 'expiresAt', 'reason', 'description']);
    const withExtras = snapshotArb.chain((s) => fc.dictionary(fc.string(), fc.jsonValue()).map((extra) => ({ ...extra, ...s, access_token: 'secret' })));
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), withExtras), (v) => {
        const s = parseSnapshot(v);
        if (s === undefined) return;
        expect(Object.keys(s).every((k) => allowed.has(k))).toBe(true);
        expect(parseSnapshot(s)).toEqual(s);
      }),
    );
  });

  it('a snapshot that carries anything else (a token) is refused', () => {
    expect(parseSnapshot({ ...signedIn, access_token: 'at.secret' })).toBeUndefined();
  });

  it('the session route: a snapshot is taken; a 401 without one means nobody is signed in; anything else keeps the state', async () => {
    await expect(readSnapshot(Response.json(signedIn))).resolves.toEqual(signedIn);
    await expect(readSnapshot(new Response(null, { status: 401 }))).resolves.toMatchObject({ status: 'signed-out', reason: null });
    await expect(readSnapshot(Response.json({ status: 'signed-in' }))).rejects.toMatchObject({ code: 'ERR_REFRESH_UNAVAILABLE' });
    await expect(readSnapshot(new Response('<html>', { status: 200 }))).rejects.toMatchObject({ code: 'ERR_REFRESH_UNAVAILABLE' });
    await expect(readSnapshot(Response.json(signedIn, { status: 503 }))).rejects.toMatchObject({ code: 'ERR_REFRESH_UNAVAILABLE' });
    // The server could not reach the token service: the page keeps what it shows.
    const unavailable = { status: 'unavailable', reason: 'unavailable', description: 'Try again.' };
    await expect(readSnapshot(Response.json(unavailable))).rejects.toMatchObject({ code: 'ERR_REFRESH_UNAVAILABLE' });
  });
});

describe('the token route', () => {
  it('a token with its lifetime; 401 → unauthorized; 403 → rejected; 5xx, 429 and a bad body → unavailable', async () => {
    const tokens = await readToken(Response.json({ access_token: 'at.1', expires_in: 300 }), 1_000);
    expect(tokens).toEqual({ accessToken: 'at.1', receivedAt: 1_000, expiresAt: 301_000 });
    await expect(readToken(new Response(null, { status: 401 }), 0)).resolves.toBe('unauthorized');
    await expect(readToken(new Response(null, { status: 403 }), 0)).rejects.toMatchObject({ code: 'ERR_CLIENT_REJECTED' });
    for (const status of [429, 500, 503]) await expect(readToken(new Response(null, { status }), 0)).rejects.toMatchObject({ code: 'ERR_REFRESH_UNAVAILABLE' });
    for (const body of ['{}', '{"access_token":"a","expires_in":0}', '{"access_token":"","expires_in":5}', 'not json'])
      await expect(readToken(new Response(body), 0)).rejects.toMatchObject({ code: 'ERR_REFRESH_UNAVAILABLE' });
  });

  it(`reads at most ${MAX_ANSWER_BYTES} bytes of an answer, even one that never ends`, async () => {
    let pulled = 0;
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled += 1024;
        controller.enqueue(new Uint8Array(1024).fill(0x20));
      },
    });
    await expect(readToken(new Response(endless), 0)).rejects.toMatchObject({ code: 'ERR_REFRESH_UNAVAILABLE', message: expect.stringMatching(/larger than/) });
    expect(pulled).toBeLessThanOrEqual(MAX_ANSWER_BYTES + 4 * 1024);
    const declared = new Response('x', { headers: { 'content-length': String(MAX_ANSWER_BYTES + 1) } });
    await expect(readSnapshot(declared)).rejects.toMatchObject({ code: 'ERR_REFRESH_UNAVAILABLE' });
  });
});
