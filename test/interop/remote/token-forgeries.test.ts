/** What held: alg confusion, none, restricted algorithms, embedded jwk, typ, cache audience/segment, http issuer, introspection iss. */
import { createHmac, generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { exportJWK, SignJWT } from 'jose';
import { remoteIssuer } from 'baton-auth/remote';
import { API, mockIssuer } from './mock-issuer.ts';

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
let issuer: Awaited<ReturnType<typeof mockIssuer>>;
beforeAll(async () => {
  issuer = await mockIssuer({ introspect: (_q, r) => r.end(JSON.stringify({ active: true, iss: 'https://other', aud: API, sub: 'x' })) });
});
afterAll(() => issuer.close());

it('refuses forged tokens and cache confusion', async () => {
  const v = remoteIssuer({ issuer: issuer.url, audience: API, introspection: { clientId: 'rs', clientSecret: 's' }, revocations: false });
  const good = await issuer.sign();
  const [h, p, s] = good.split('.') as [string, string, string];
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
  await v.verify(good);
  // HS256 with the public JWK as secret; none; EdDSA with an attacker key embedded as jwk; jku
  const hsHead = b64({ alg: 'HS256', typ: 'at+jwt', kid: 'k1' });
  const hs = `${hsHead}.${p}.${createHmac('sha256', JSON.stringify(issuer.jwk)).update(`${hsHead}.${p}`).digest('base64url')}`;
  await expect(v.verify(hs)).rejects.toThrow();
  await expect(v.verify(`${b64({ alg: 'none', typ: 'at+jwt' })}.${p}.`)).rejects.toThrow();
  const evil = generateKeyPairSync('ed25519');
  const emb = await new SignJWT(claims)
    .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', jwk: await exportJWK(evil.publicKey), jku: `${issuer.url}/jwks` } as never)
    .sign(evil.privateKey);
  await expect(v.verify(emb)).rejects.toThrow();
  // same last segment, other payload; typ JWT; cached token for another audience
  await expect(v.verify(`${h}.${b64({ ...claims, scope: 'admin' })}.${s}`)).rejects.toThrow();
  await expect(v.verify(await issuer.sign({}, { alg: 'RS256', typ: 'JWT', kid: 'k1' }))).rejects.toThrow();
  await expect(v.verify(good, { audience: 'https://b.test' })).rejects.toThrow();
  expect(() => v.verifySync?.(good, { audience: 'https://b.test' })).toThrow();
  // RS256 token when only ES256 is allowed
  const es = remoteIssuer({ issuer: issuer.url, audience: API, algorithms: ['ES256'], revocations: false });
  await expect(es.verify(good)).rejects.toThrow();
  // introspection answer naming another issuer
  await expect(v.verify('opaque-token')).rejects.toThrow();
  expect(() => remoteIssuer({ issuer: 'http://auth.example.com', audience: API })).toThrow(/https/);
  v.close();
  es.close();
});

it("RFC 9068 §2.2: a token without client_id or jti is refused, signed by the issuer's own key (#22: both were accepted)", async () => {
  const v = remoteIssuer({ issuer: issuer.url, audience: API, revocations: false });
  try {
    await v.verify(await issuer.sign());
    // jose's claim check refuses them (its code is the detail), not the signature.
    for (const missing of [{ client_id: undefined }, { jti: undefined }]) {
      await expect(v.verify(await issuer.sign(missing))).rejects.toMatchObject({ code: 'ERR_TOKEN_INVALID', detail: 'ERR_JWT_CLAIM_VALIDATION_FAILED' });
    }
  } finally {
    v.close();
  }
});
