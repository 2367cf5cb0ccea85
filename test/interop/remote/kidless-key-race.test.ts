/**
 * Red team 2 (fixed): a key revoked while a kid-less token's verification waits for the JWKS. The
 * revoked-key check ran before the key set was fetched, and again after it only for a token naming
 * its kid (jwks.ts); the verified-token cache is cleared on a key revocation, but this token was
 * put in it afterwards — accepted, then served from the cache until its `exp`.
 */
import { createServer } from 'node:http';
import type { ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { remoteIssuer } from 'baton-auth/remote';

const API = 'https://api.test';
let url = '';
let feed: ServerResponse | undefined;
let releaseJwks: () => void = () => undefined;
let jwksAsked: () => void = () => undefined;
const jwksAskedOnce = new Promise<void>((r) => {
  jwksAsked = r;
});
let key: Awaited<ReturnType<typeof generateKeyPair>>;
const server = createServer((req, res) => {
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  if (path === '/.well-known/oauth-authorization-server') {
    res.setHeader('content-type', 'application/json');
    res.end(
      JSON.stringify({ issuer: url, jwks_uri: `${url}/jwks`, introspection_endpoint: `${url}/introspect`, baton_revocation_feed_endpoint: `${url}/feed` }),
    );
  } else if (path === '/jwks') {
    jwksAsked();
    void exportJWK(key.publicKey).then((jwk) => {
      releaseJwks = () => res.setHeader('content-type', 'application/json').end(JSON.stringify({ keys: [{ ...jwk, kid: 'k1', alg: 'RS256' }] }));
    });
  } else if (path === '/feed') {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('event: ready\nid: 0\ndata: {}\n\n');
    feed = res;
  } else res.writeHead(404).end();
});

beforeAll(async () => {
  key = await generateKeyPair('RS256', { extractable: true });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(
  () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
);

it('refuses a kid-less token whose key was revoked while its key set was being fetched, then and from the cache', async () => {
  const heard: string[] = [];
  const v = remoteIssuer({ issuer: url, audience: API, introspection: { clientId: 'rs', clientSecret: 's' }, onRevocation: (e) => heard.push(e.kind) });
  try {
    const kidless = await new SignJWT({ sub: 'ada', client_id: 'c', jti: 'j1', sid: 's1' })
      .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt' })
      .setIssuer(url)
      .setAudience(API)
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(key.privateKey);
    const first = v.verify(kidless);
    await jwksAskedOnce; // the verification waits for the key set
    const now = Date.now();
    feed?.write(`id: 1\ndata: ${JSON.stringify({ kind: 'key', id: 'k1', at: now, expiresAt: now + 3_600_000 })}\n\n`);
    for (let i = 0; i < 100 && !heard.includes('key'); i++) await new Promise((r) => setTimeout(r, 10));
    expect(heard).toEqual(['key']);
    releaseJwks();
    await expect(first).rejects.toMatchObject({ code: 'ERR_TOKEN_INVALID' });
    await expect(v.verify(kidless)).rejects.toMatchObject({ code: 'ERR_TOKEN_INVALID' });
    expect(v.verifySync?.(kidless)).toBeUndefined();
  } finally {
    v.close();
  }
});
