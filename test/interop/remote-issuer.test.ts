/**
 * A resource server for another issuer: Express with `requireAuth(remoteIssuer(…))` in front of an
 * API whose tokens come from oidc-provider (JWT access tokens, RS256 and ES256, RFC 9068) and from
 * a second Baton service (its JWTs, and opaque tokens by introspection).
 */
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Provider from 'oidc-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireAuth } from 'baton-auth/adapters/express';
import { remoteIssuer } from 'baton-auth/remote';
import { clients } from '../../packages/baton-auth-server/src/server/clients.ts';
import { loadConfig, startServer, users } from 'baton-auth-server';
import { dpopKey, dpopProof, postWithProof } from '../support/dpop.ts';
import { memoryStore } from 'baton-auth/stores/memory';
import { eventually } from '../support/eventually.ts';

const API = 'https://api.test';

/** An API on its own port, its /orders behind requireAuth with `verifier`; counts what the verifier fetched. */
async function api(verifier: ReturnType<typeof remoteIssuer>, origin?: string): Promise<{ url: string; close: () => Promise<void> }> {
  const app = express();
  app.get('/orders', requireAuth(verifier, { audience: API, scope: 'orders:read', ...(origin === undefined ? {} : { origin }) }), (req, res) =>
    res.json({ sub: req.auth.sub, client: req.auth.client_id }),
  );
  const server: Server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise((r) => server.close(() => r())) };
}

const get = (url: string, token: string) => fetch(url, { headers: { authorization: `Bearer ${token}` } });

describe('tokens of oidc-provider (JWT access tokens, RFC 9068)', () => {
  const server = createServer();
  let issuer = '';
  let provider: Provider;
  const fetched: string[] = [];
  const counting: typeof fetch = (input, init) => {
    fetched.push(new URL(String(input instanceof Request ? input.url : input)).pathname);
    return fetch(input, init);
  };

  beforeAll(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const rsa = { ...generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }), kid: 'rsa-1', alg: 'RS256', use: 'sig' };
    const ec = { ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }), kid: 'ec-1', alg: 'ES256', use: 'sig' };
    provider = new Provider(issuer, {
      jwks: { keys: [rsa, ec] as never },
      clients: [
        {
          client_id: 'machine-rs',
          client_secret: 'machine-secret-of-32-characters-xx',
          grant_types: ['client_credentials'],
          redirect_uris: [],
          response_types: [],
        },
        {
          client_id: 'machine-es',
          client_secret: 'machine-secret-of-32-characters-xx',
          grant_types: ['client_credentials'],
          redirect_uris: [],
          response_types: [],
        },
      ],
      scopes: ['orders:read'],
      features: {
        devInteractions: { enabled: false },
        clientCredentials: { enabled: true },
        resourceIndicators: {
          enabled: true,
          defaultResource: () => API,
          useGrantedResource: () => true,
          getResourceServerInfo: (_ctx, resource, client) => ({
            scope: 'orders:read',
            audience: resource,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: client.clientId === 'machine-es' ? 'ES256' : 'RS256' } },
          }),
        },
      },
    });
    server.on('request', provider.callback());
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const tokenFor = async (clientId: string, resource = API): Promise<string> => {
    const res = await fetch(`${issuer}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${clientId}:machine-secret-of-32-characters-xx`).toString('base64')}`,
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'orders:read', resource }),
    });
    const body = (await res.json()) as { access_token?: string; error?: string; error_description?: string };
    if (body.access_token === undefined) throw new Error(`oidc-provider: ${body.error} ${body.error_description}`);
    return body.access_token;
  };

  it('accepts its RS256 and ES256 access tokens for this API, from a single JWKS fetch', async () => {
    const verifier = remoteIssuer({ issuer, audience: API, fetch: counting });
    const a = await api(verifier);
    try {
      for (const [client, alg] of [
        ['machine-rs', 'RS256'],
        ['machine-es', 'ES256'],
      ] as const) {
        const token = await tokenFor(client);
        expect(JSON.parse(Buffer.from(token.split('.')[0] as string, 'base64url').toString())).toMatchObject({ alg, typ: 'at+jwt' });
        const res = await get(`${a.url}/orders`, token);
        expect(res.status).toBe(200);
        expect(await res.json()).toEqual({ sub: client, client });
        expect((await get(`${a.url}/orders`, token)).status).toBe(200); // from the verified-token cache
      }
      expect(fetched.filter((p) => p.includes('jwks'))).toHaveLength(1);
      expect(fetched.filter((p) => p.includes('well-known'))).toHaveLength(1);
    } finally {
      await a.close();
    }
  });

  it('refuses a token for another API, a forged or tampered one, and a typ JWT unless told to allow it', async () => {
    const a = await api(remoteIssuer({ issuer, audience: API }));
    try {
      const other = await tokenFor('machine-rs', 'https://other-api.test');
      expect(JSON.parse(Buffer.from(other.split('.')[1] as string, 'base64url').toString()).aud).toBe('https://other-api.test');
      expect((await get(`${a.url}/orders`, other)).status).toBe(401);
      const token = await tokenFor('machine-rs');
      const [h, p, s] = token.split('.') as [string, string, string];
      const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
      const widened = Buffer.from(JSON.stringify({ ...claims, scope: 'orders:read admin' })).toString('base64url');
      const refused = await get(`${a.url}/orders`, `${h}.${widened}.${s}`);
      expect(refused.status).toBe(401);
      expect(refused.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
      const asJwt = `${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(h, 'base64url').toString()), typ: 'JWT' })).toString('base64url')}.${p}.${s}`;
      expect((await get(`${a.url}/orders`, asJwt)).status).toBe(401); // typ is signed too: also a forgery
    } finally {
      await a.close();
    }
  });

  it('fails at creation without an issuer or with an HS algorithm, and metadata of another issuer is refused', async () => {
    expect(() => remoteIssuer({ issuer: '', audience: API })).toThrow(/issuer/);
    expect(() => remoteIssuer({ issuer, audience: API, algorithms: ['HS256'] })).toThrow(/asymmetric/);
    // An issuer that cannot be reached is a 503 with Retry-After: nothing is wrong with the token.
    const gone = await api(remoteIssuer({ issuer: 'http://127.0.0.1:9', audience: API }));
    try {
      const res = await get(`${gone.url}/orders`, await tokenFor('machine-rs'));
      expect([res.status, res.headers.get('retry-after')]).toEqual([503, '1']);
    } finally {
      await gone.close();
    }
    // Configured with a trailing slash: the metadata names the issuer without one, which is another issuer (RFC 8414 §3.3).
    const lying = remoteIssuer({ issuer: `${issuer}/`, audience: API });
    await expect(lying.verify(await tokenFor('machine-rs'))).rejects.toThrow(/names the issuer .* not .*RFC 8414 §3\.3/);
    const misconfigured = await api(lying);
    try {
      const res = await get(`${misconfigured.url}/orders`, await tokenFor('machine-rs'));
      expect([res.status, ((await res.json()) as { error: string }).error]).toEqual([500, 'server_error']); // the API's fault, not the token's
    } finally {
      await misconfigured.close();
    }
  });
});

describe('tokens of another Baton service', () => {
  let baton: Awaited<ReturnType<typeof startServer>>;
  let opaque: Awaited<ReturnType<typeof startServer>>;
  const secret = 'introspection-secret-of-32-characters!!';
  beforeAll(async () => {
    baton = await startServer(
      loadConfig({
        PORT: '0',
        BATON_STORE: 'memory:',
        BATON_LOG_LEVEL: 'silent',
        BATON_RESOURCES: API,
        BATON_ALG: 'ES256',
        BATON_INTROSPECTION_SECRET: secret,
      }),
    );
    opaque = await startServer(
      loadConfig({
        PORT: '0',
        BATON_STORE: 'memory:',
        BATON_LOG_LEVEL: 'silent',
        BATON_RESOURCES: API,
        BATON_TOKEN_FORMAT: 'opaque',
        BATON_INTROSPECTION_SECRET: secret,
      }),
    );
    for (const s of [baton, opaque]) {
      await users.add(s.service.store, 'ada', 'ada password 1', 'orders:read');
      await clients.setScopes(s.service.store, 'default', 'orders:read').catch(() => undefined);
    }
  });
  afterAll(async () => {
    await baton.stop();
    await opaque.stop();
  });
  const login = async (s: typeof baton): Promise<string> => {
    const res = await fetch(`${s.url}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'ada', password: 'ada password 1', resource: API, scope: 'orders:read' }),
    });
    const body = (await res.json()) as { access_token?: string; error_description?: string };
    if (body.access_token === undefined) throw new Error(`login: ${body.error_description}`);
    return body.access_token;
  };

  it('accepts its JWTs for this API, and after a key rotation refetches the JWKS once for the new kid', async () => {
    let jwksFetches = 0;
    const verifier = remoteIssuer({
      issuer: baton.url,
      audience: API,
      fetch: (input, init) => (String(input).includes('jwks') && jwksFetches++, fetch(input, init)),
      jwks: { cooldownMs: 0 },
    });
    const a = await api(verifier);
    try {
      expect((await get(`${a.url}/orders`, await login(baton))).status).toBe(200);
      expect(jwksFetches).toBe(1);
      await baton.service.baton.rotateKeys();
      await baton.service.baton.rotateKeys(); // a kid the first fetch did not publish
      expect((await get(`${a.url}/orders`, await login(baton))).status).toBe(200);
      expect(jwksFetches).toBe(2);
    } finally {
      await a.close();
    }
  });

  it('follows its revocation feed: a logout there is refused here within milliseconds, cached tokens included, and a dropped stream catches up', async () => {
    const heard: string[] = [];
    const verifier = remoteIssuer({
      issuer: baton.url,
      audience: API,
      introspection: { clientId: 'resource-server', clientSecret: secret },
      onRevocation: (e) => heard.push(`${e.kind}:${e.id}`),
    });
    const a = await api(verifier);
    const sessionOf = (token: string) => (JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString()) as { sid: string }).sid;
    try {
      const token = await login(baton);
      expect((await get(`${a.url}/orders`, token)).status).toBe(200); // verified and cached; the feed connects (a revocation before it is in its backlog)
      await baton.service.baton.revokeSession(sessionOf(token), 'logout'); // the user logs out on the service
      await eventually(() => heard.includes(`session:${sessionOf(token)}`), { what: 'the revocation to arrive' });
      const refused = await get(`${a.url}/orders`, token);
      expect(refused.status).toBe(401);
      // The stream drops (the service ends it); a session revoked meanwhile is caught up on reconnect.
      const second = await login(baton);
      expect((await get(`${a.url}/orders`, second)).status).toBe(200);
      baton.service.handler.closeStreams?.();
      await baton.service.baton.revokeSession(sessionOf(second), 'admin');
      await eventually(() => heard.includes(`session:${sessionOf(second)}`), { what: 'the catch-up after the reconnect', timeoutMs: 10_000 });
      expect((await get(`${a.url}/orders`, second)).status).toBe(401);
    } finally {
      verifier.close();
      await a.close();
    }
  });

  it("takes its DPoP-bound tokens with the DPoP scheme and a proof for this API's URL; refuses them as Bearer, replayed, or for another URL (RFC 9449 §7)", async () => {
    const key = await dpopKey();
    const res = await postWithProof(key, `${baton.url}/auth/login`, { username: 'ada', password: 'ada password 1', resource: API, scope: 'orders:read' });
    const { access_token: token, token_type: type } = (await res.json()) as { access_token: string; token_type: string };
    expect(type).toBe('DPoP');
    const verifier = remoteIssuer({ issuer: baton.url, audience: API });
    const a = await api(verifier);
    try {
      const url = `${a.url}/orders`;
      const proof = await dpopProof(key, 'GET', url, { accessToken: token });
      const ok = await fetch(url, { headers: { authorization: `DPoP ${token}`, dpop: proof } });
      expect(ok.status).toBe(200);
      expect((await fetch(url, { headers: { authorization: `DPoP ${token}`, dpop: proof } })).status).toBe(401);
      const asBearer = await get(url, token);
      expect(asBearer.status).toBe(401);
      expect((await asBearer.json()).error_description).toMatch(/bound to a DPoP key/);
      const elsewhere = await fetch(url, {
        headers: { authorization: `DPoP ${token}`, dpop: await dpopProof(key, 'GET', `${a.url}/admin`, { accessToken: token }) },
      });
      expect(elsewhere.headers.get('www-authenticate')).toMatch(/^DPoP algs="[^"]+", error="invalid_dpop_proof"/);
      const thief = await dpopKey();
      expect((await fetch(url, { headers: { authorization: `DPoP ${token}`, dpop: await dpopProof(thief, 'GET', url, { accessToken: token }) } })).status).toBe(
        401,
      );
    } finally {
      verifier.close();
      await a.close();
    }
  });

  it('two instances of an API refuse a proof spent on the other when they share a ledger (dpop.ledger); apart, each spends its own', async () => {
    const key = await dpopKey();
    const res = await postWithProof(key, `${baton.url}/auth/login`, { username: 'ada', password: 'ada password 1', resource: API, scope: 'orders:read' });
    const { access_token: token } = (await res.json()) as { access_token: string };
    const ORIGIN = 'https://orders.api.test'; // both instances behind one public origin
    const instances = async (ledger?: ReturnType<typeof memoryStore>) => {
      const verifiers = [0, 1].map(() => remoteIssuer({ issuer: baton.url, audience: API, ...(ledger === undefined ? {} : { dpop: { ledger } }) }));
      return { verifiers, apis: await Promise.all(verifiers.map((v) => api(v, ORIGIN))) };
    };
    const replayed = async (ledger?: ReturnType<typeof memoryStore>) => {
      const { verifiers, apis } = await instances(ledger);
      try {
        const headers = { authorization: `DPoP ${token}`, dpop: await dpopProof(key, 'GET', `${ORIGIN}/orders`, { accessToken: token }) };
        expect((await fetch(`${apis[0]?.url}/orders`, { headers })).status).toBe(200);
        return (await fetch(`${apis[1]?.url}/orders`, { headers })).status;
      } finally {
        for (const v of verifiers) v.close();
        for (const a of apis) await a.close();
      }
    };
    expect(await replayed(memoryStore())).toBe(401);
    expect(await replayed()).toBe(200); // the documented limit of the per-process default
  });

  it('serves the feed as JSON since a cursor, to resource servers only', async () => {
    const token = await login(baton);
    const sid = (JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString()) as { sid: string }).sid;
    await baton.service.baton.revokeSession(sid, 'admin');
    const auth = { authorization: `Basic ${Buffer.from(`resource-server:${secret}`).toString('base64')}` };
    const all = (await (await fetch(`${baton.url}/oauth/revocations?since=0`, { headers: auth })).json()) as {
      events: { kind: string; id: string; at: number }[];
      cursor: number;
    };
    expect(all.events).toContainEqual(expect.objectContaining({ kind: 'session', id: sid }));
    expect(all.events.every((e) => Object.keys(e).sort().join() === 'at,expiresAt,id,kind')).toBe(true); // no reason, no device
    // The last release's followers resume with since=<last id>. (A cursor above the log's head, never handed out, is unknown: the whole backlog.)
    const later = (await (await fetch(`${baton.url}/oauth/revocations?since=${all.cursor}`, { headers: auth })).json()) as { events: unknown[] };
    expect(later.events).toEqual([]);
    expect((await fetch(`${baton.url}/oauth/revocations?since=0`)).status).toBe(401);
    // Streams are capped per client: 16, one per instance of a resource server being plenty.
    const abort = new AbortController();
    const stream = () => fetch(`${baton.url}/oauth/revocations?since=0`, { headers: { ...auth, accept: 'text/event-stream' }, signal: abort.signal });
    try {
      const open = await Promise.all(Array.from({ length: 16 }, stream));
      expect(open.map((r) => r.status)).toEqual(Array(16).fill(200));
      const refused = await stream();
      expect([refused.status, refused.headers.get('retry-after')]).toEqual([429, '5']);
    } finally {
      abort.abort();
    }
    const metadata = (await (await fetch(`${baton.url}/.well-known/oauth-authorization-server`)).json()) as Record<string, string>;
    expect(metadata.baton_revocation_feed_endpoint).toBe(`${baton.url}/oauth/revocations`);
  });

  it("introspects its opaque tokens with the API's credentials, caching each answer briefly", async () => {
    let introspections = 0;
    const verifier = remoteIssuer({
      issuer: opaque.url,
      audience: API,
      introspection: { clientId: 'resource-server', clientSecret: secret, cacheMs: 60_000 },
      fetch: (input, init) => (String(input).includes('introspect') && introspections++, fetch(input, init)),
    });
    const a = await api(verifier);
    try {
      const token = await login(opaque);
      expect(token).not.toMatch(/\./);
      for (let i = 0; i < 3; i++) expect((await get(`${a.url}/orders`, token)).status).toBe(200);
      expect(introspections).toBe(1);
      expect((await get(`${a.url}/orders`, 'at_not-a-real-token')).status).toBe(401);
      const noIntrospection = await api(remoteIssuer({ issuer: opaque.url, audience: API }));
      try {
        expect((await get(`${noIntrospection.url}/orders`, token)).status).toBe(401);
      } finally {
        await noIntrospection.close();
      }
    } finally {
      await a.close(); // its verifier still follows the feed: the service's stop must not wait for it
    }
  });
});
