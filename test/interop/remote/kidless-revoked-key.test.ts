/**
 * Red-team regression (fixed; each failed before): a revoked key still signs accepted tokens when the token omits `kid`.
 * issuer.ts:199 checks `isRevoked('key', kid)` on the *header's* kid only; jose picks the single
 * matching key from the cached JWKS (cacheMaxAge 10 min) when there is no kid.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { remoteIssuer } from 'baton-auth/remote';
import { API, mockIssuer } from './mock-issuer.ts';

let issuer: Awaited<ReturnType<typeof mockIssuer>>;
beforeAll(async () => {
  issuer = await mockIssuer({
    feed: (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const now = Date.now();
      res.write(`id: ${now}\ndata: ${JSON.stringify({ kind: 'key', id: 'k1', at: now, expiresAt: now + 3_600_000 })}\n\n`);
    },
  });
});
afterAll(() => issuer.close());

it('refuses every token of a revoked key, with or without a kid', async () => {
  const heard: string[] = [];
  const v = remoteIssuer({
    issuer: issuer.url,
    audience: API,
    introspection: { clientId: 'rs', clientSecret: 's' },
    onRevocation: (e) => heard.push(`${e.kind}:${e.id}`),
  });
  try {
    // Prime metadata + JWKS (the token is valid before the revocation arrives or not, irrelevant).
    await v.verify(await issuer.sign({ jti: 'prime' })).catch(() => undefined);
    for (let i = 0; i < 100 && !heard.includes('key:k1'); i++) await new Promise((r) => setTimeout(r, 20));
    expect(heard).toContain('key:k1');
    // With the kid: refused (held).
    await expect(v.verify(await issuer.sign({ jti: 'with-kid' }))).rejects.toThrow();
    // The holder of the compromised key just drops the kid header:
    const kidless = await issuer.sign({ jti: 'no-kid' }, { alg: 'RS256', typ: 'at+jwt' });
    await expect(v.verify(kidless)).rejects.toThrow(); // a refresh token never passes as an access token with the claims
  } finally {
    v.close();
  }
});
