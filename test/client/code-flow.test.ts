/**
 * The SDK's authorization code flow from a command-line program (`signInWithBrowser`, RFC 8252),
 * end to end against a real authorization server on loopback (each of `CODE_FLOW_SERVERS`:
 * oidc-provider, and Baton's own handler with its hosted sign-in page). The system browser is played by
 * the `open` option: a function that fetches the authorization URL, signs in and consents on the
 * server's pages, and fetches the loopback callback it is sent to. Proved: PKCE S256, `state`,
 * `nonce` and `dpop_jkt` in the request; a code bound to the client's key (the token answer's
 * `token_type` is DPoP, and the server's access token records the key); a callback with another
 * state answered 400 while the sign-in goes on; an `iss` that is not the issuer refused before the
 * code is sent; the server's `error` as an `AuthorizationError`; PAR when asked or required; the
 * loopback server closed after success, timeout and abort; and the SDK's refresh and `fetch` after.
 */
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthorizationError, BatonClientError, createTokenClient, memoryStorage } from 'baton-auth-client';
import { signInWithBrowser } from 'baton-auth-client/node';
import { CODE_FLOW_SERVERS } from '../support/code-flow-servers.ts';
import type { CodeFlowServer } from '../support/code-flow-servers.ts';

/** What the client sent to the token endpoint and what it answered, for `authorization_code` grants. */
interface Exchange {
  dpop: boolean;
  answer: Record<string, unknown>;
}

/** A client of `server` whose fetch records its code exchanges. */
function clientOf(server: CodeFlowServer) {
  const exchanges: Exchange[] = [];
  const recording: typeof fetch = async (input, init) => {
    const res = await fetch(input, init);
    if (String(init?.body ?? '').includes('grant_type=authorization_code')) {
      const headers = new Headers(init?.headers);
      exchanges.push({ dpop: headers.has('dpop'), answer: (await res.clone().json()) as Record<string, unknown> });
    }
    return res;
  };
  const client = createTokenClient({ issuer: server.issuer, clientId: server.clientId, storage: memoryStorage(), fetch: recording });
  return { client, exchanges };
}

/** Whether something listens at `origin` (the loopback server after its sign-in: it must not). */
const listening = (origin: string) =>
  fetch(`${origin}/callback`).then(
    () => true,
    () => false,
  );

/** The callback's origin, from the authorization URL's `redirect_uri` (not pushed). */
const callbackOrigin = (url: string) => new URL(new URL(url).searchParams.get('redirect_uri') as string).origin;

/** The status of a GET of `url` sent with another `Host` header (fetch cannot set one). */
function getWithHost(url: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { host } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

/** `back` with its parameter `name` set to `value`. */
function withParam(back: string, name: string, value: string): string {
  const u = new URL(back);
  u.searchParams.set(name, value);
  return u.href;
}

describe.each(Object.entries(CODE_FLOW_SERVERS))('the code flow from a CLI against %s', (_name, start) => {
  let server: CodeFlowServer;
  beforeAll(async () => {
    server = await start();
  });
  afterAll(() => server?.close());

  it('signs in through the system browser and a loopback server: PKCE S256, state, nonce, a DPoP-bound code; refresh and fetch work after', async () => {
    const { client, exchanges } = clientOf(server);
    let asked = new URL('http://unset');
    let browser: Promise<{ status: number; text: string }> | undefined;
    const signedIn = await signInWithBrowser(client, {
      scope: 'openid offline_access',
      open: (url) => {
        asked = new URL(url);
        browser = (async () => {
          const res = await fetch(await server.authorize(url));
          return { status: res.status, text: await res.text() };
        })();
      },
    });
    const page = (await browser) as { status: number; text: string };
    const q = asked.searchParams;
    expect(q.get('redirect_uri')).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);
    expect(q.get('code_challenge_method')).toBe('S256');
    expect(q.get('code_challenge')).toMatch(/^[\w-]{43}$/);
    expect(q.get('state')).toMatch(/^[\w-]{43}$/);
    expect(q.get('nonce')).toMatch(/^[\w-]{43}$/);
    const jkt = await client.dpopThumbprint();
    expect(q.get('dpop_jkt')).toBe(jkt);
    expect(page.status).toBe(200);
    expect(page.text).toContain('You can close this tab');
    // The code was redeemed with a proof, and the server bound the tokens to that key.
    expect(exchanges.length).toBeGreaterThanOrEqual(1); // a use_dpop_nonce round (RFC 9449 §8) makes two
    expect(exchanges.every((e) => e.dpop)).toBe(true);
    expect(String(exchanges.at(-1)?.answer.token_type).toLowerCase()).toBe('dpop');
    expect(signedIn.tokens.tokenType).toBe('DPoP');
    expect(await server.boundKey(signedIn.tokens.accessToken)).toBe(jkt);
    expect(signedIn.claims).toMatchObject({ iss: server.issuer, aud: server.clientId, sub: server.subject, nonce: q.get('nonce') });
    expect(await listening(callbackOrigin(asked.href))).toBe(false);
    // The rest of the SDK takes over: a refresh with the same key, a call with the bound token.
    const refreshed = await client.refresh();
    expect(refreshed.accessToken).not.toBe(signedIn.tokens.accessToken);
    expect(refreshed.tokenType).toBe('DPoP');
    const me = await client.fetch(server.userinfo);
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({ sub: server.subject });
  });

  it("answers 400 to a callback with another state (or under another Host) and goes on waiting for this sign-in's own", async () => {
    const { client } = clientOf(server);
    const statuses: number[] = [];
    let browser: Promise<void> | undefined;
    const signedIn = await signInWithBrowser(client, {
      scope: 'openid',
      open: (url) => {
        browser = (async () => {
          const back = await server.authorize(url);
          for (const forged of [withParam(back, 'state', 'forged-state'), back.replace(/state=[^&]*/, '')]) statuses.push((await fetch(forged)).status);
          // The right answer under another name (a page's request through DNS rebinding): 400, and not taken.
          statuses.push(await getWithHost(back, 'rebound.example'));
          statuses.push((await fetch(back)).status);
          // The one answer was taken: 400, or the server is gone.
          statuses.push(
            await fetch(back).then(
              (r) => r.status,
              () => 0,
            ),
          );
        })();
      },
    });
    await browser;
    expect(statuses.slice(0, 4)).toEqual([400, 400, 400, 200]);
    expect([0, 400]).toContain(statuses[4]);
    expect(signedIn.tokens.accessToken).toEqual(expect.any(String));
  });

  it('refuses an answer whose iss is not the issuer (RFC 9207) before the code is sent, and closes the server', async () => {
    const { client, exchanges } = clientOf(server);
    let origin = '';
    let answered: Promise<number> = Promise.resolve(0);
    const failed = await signInWithBrowser(client, {
      scope: 'openid',
      open: (url) => {
        origin = callbackOrigin(url);
        answered = (async () => {
          const back = await server.authorize(url);
          expect(new URL(back).searchParams.get('iss')).toBe(server.issuer);
          return (await fetch(withParam(back, 'iss', 'https://attacker.example'))).status;
        })();
      },
    }).catch((err: unknown) => err);
    expect(failed).toBeInstanceOf(BatonClientError);
    expect((failed as BatonClientError).code).toBe('ERR_ISSUER_MISMATCH');
    expect(await answered).toBe(400);
    expect(exchanges).toEqual([]); // the code never went to the token endpoint
    expect(await listening(origin)).toBe(false);
  });

  it("turns the server's error answer into an AuthorizationError (prompt=none without a session: login_required)", async () => {
    const { client } = clientOf(server);
    const failed = await signInWithBrowser(client, {
      scope: 'openid',
      prompt: 'none',
      open: async (url) => void (await fetch(await server.authorize(url))),
    }).catch((err: unknown) => err);
    expect(failed).toBeInstanceOf(AuthorizationError);
    expect(failed).toMatchObject({ code: 'ERR_AUTHORIZATION_REFUSED', error: 'login_required' });
  });

  it('pushes the request (RFC 9126) when asked: the browser gets only client_id and request_uri', async () => {
    const { client } = clientOf(server);
    let asked = new URL('http://unset');
    const signedIn = await signInWithBrowser(client, {
      par: true,
      scope: 'openid',
      open: async (url) => {
        asked = new URL(url);
        await fetch(await server.authorize(url));
      },
    });
    expect([...asked.searchParams.keys()].sort()).toEqual(['client_id', 'request_uri']);
    expect(signedIn.tokens.tokenType).toBe('DPoP');
  });

  it('ends the wait after timeoutMs with ERR_SIGN_IN_TIMEOUT, and after an abort with its reason; the server is closed each time', async () => {
    const { client } = clientOf(server);
    let origin = '';
    const started = Date.now();
    const timedOut = await signInWithBrowser(client, { timeoutMs: 300, open: (url) => void (origin = callbackOrigin(url)) }).catch((err: unknown) => err);
    expect(timedOut).toMatchObject({ code: 'ERR_SIGN_IN_TIMEOUT' });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await listening(origin)).toBe(false);
    const controller = new AbortController();
    const reason = new Error('the user pressed Ctrl-C');
    const aborted = signInWithBrowser(client, {
      signal: controller.signal,
      open: (url) => {
        origin = callbackOrigin(url);
        setTimeout(() => controller.abort(reason), 50);
      },
    }).catch((err: unknown) => err);
    expect(await aborted).toBe(reason);
    expect(await listening(origin)).toBe(false);
  });
});

describe.each(Object.entries(CODE_FLOW_SERVERS))('a server that requires PAR (%s)', (_name, start) => {
  let server: CodeFlowServer;
  beforeAll(async () => {
    server = await start({ requirePar: true });
  });
  afterAll(() => server?.close());

  it('gets a pushed request: unasked when its metadata says require_pushed_authorization_requests, else with par: true', async () => {
    const { client } = clientOf(server);
    if (server.parRequiredBy === 'client') {
      // The server refuses the request that is not pushed: the requirement is real.
      const refused = await signInWithBrowser(client, { scope: 'openid', open: async (url) => void (await fetch(await server.authorize(url))) }).catch(
        (e: unknown) => e,
      );
      expect(refused).toMatchObject({ code: 'ERR_AUTHORIZATION_REFUSED', error: 'invalid_request' });
    }
    let asked = new URL('http://unset');
    const signedIn = await signInWithBrowser(client, {
      scope: 'openid',
      ...(server.parRequiredBy === 'client' ? { par: true } : {}),
      open: async (url) => {
        asked = new URL(url);
        await fetch(await server.authorize(url));
      },
    });
    expect(asked.searchParams.get('request_uri')).toMatch(/^urn:/);
    expect(asked.searchParams.has('code_challenge')).toBe(false);
    expect(signedIn.tokens.tokenType).toBe('DPoP');
  });
});

describe('a server that never answers', () => {
  it('bounds the whole sign-in, discovery included: ERR_SIGN_IN_TIMEOUT after timeoutMs', async () => {
    const mute = createServer(() => undefined); // takes every request, answers none
    await new Promise<void>((resolve) => mute.listen(0, '127.0.0.1', resolve));
    try {
      const client = createTokenClient({ issuer: `http://127.0.0.1:${(mute.address() as AddressInfo).port}`, clientId: 'app', storage: memoryStorage() });
      let opened = false;
      const started = Date.now();
      const err = await signInWithBrowser(client, { timeoutMs: 300, open: () => void (opened = true) }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'ERR_SIGN_IN_TIMEOUT' });
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(opened).toBe(false);
    } finally {
      mute.closeAllConnections();
      await new Promise((resolve) => mute.close(resolve));
    }
  });
});
