/**
 * RS256 and PS256 (RFC 7518 §3.3, §3.5; RFC 9068 §2.1 makes RS256 a must): keys of 2048 bits or
 * more, the algorithm pinned to the key, tokens other libraries verify through the JWKS — in the
 * engine and in the service.
 */
import { generateKeyPairSync } from 'node:crypto';
import { createLocalJWKSet, createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { BatonConfigError, generateKey, KeyRing } from 'baton-auth';
import type { RingKey } from 'baton-auth';
import { loadConfig, startServer, users } from 'baton-auth-server';
import { codeOf, ISSUER, makeBaton } from '../support/baton.ts';

describe('RSA keys', () => {
  it('are refused under 2048 bits, or of another type, with a sentence', () => {
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ format: 'jwk' });
    expect(() => new KeyRing([{ kid: 'small', alg: 'RS256', privateKey: small }])).toThrow(BatonConfigError);
    expect(() => new KeyRing([{ kid: 'small', alg: 'PS256', privateKey: small }])).toThrow(/at least 2048 bits \(RFC 7518 §3\.3\); this one has 1024 bits/);
    const ec = generateKey('ES256').privateKey;
    expect(() => new KeyRing([{ kid: 'ec', alg: 'RS256', privateKey: ec as never }])).toThrow(/RS256 needs an RSA key, got prime256v1/);
    const generated = new KeyRing([generateKey('PS256', 'p')]).get('p') as RingKey;
    expect(generated.verifyKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
  });

  for (const alg of ['RS256', 'PS256'] as const) {
    it(`${alg}: the engine signs, verifies, refreshes, and jose verifies through the JWKS`, async () => {
      const { baton, clock } = makeBaton({ keys: [generateKey(alg, `${alg}-1`)] });
      const pair = await baton.login('u', { scope: 'read' });
      expect(JSON.parse(Buffer.from(pair.access_token.split('.')[0] as string, 'base64url').toString())).toEqual({ alg, typ: 'at+jwt', kid: `${alg}-1` });
      expect((await baton.verify(pair.access_token)).sub).toBe('u');
      const jwks = baton.jwks();
      expect(jwks.keys).toEqual([expect.objectContaining({ kty: 'RSA', kid: `${alg}-1`, alg, use: 'sig', e: 'AQAB' })]);
      expect(jwks.keys[0]).not.toHaveProperty('d');
      const { payload } = await jwtVerify(pair.access_token, createLocalJWKSet(jwks as never), {
        issuer: ISSUER,
        audience: ISSUER,
        typ: 'at+jwt',
        algorithms: [alg],
        currentDate: new Date(clock.ms),
      });
      expect(payload.sub).toBe('u');
      const next = await baton.refresh(pair.refresh_token);
      expect((await baton.verify(next.access_token)).sid).toBe(pair.session_id);
      // The other RSA algorithm's signature under this key's header is refused: the algorithm is the key's.
      const [, p, sig] = next.access_token.split('.') as [string, string, string];
      const swapped = `${Buffer.from(JSON.stringify({ alg: alg === 'RS256' ? 'PS256' : 'RS256', typ: 'at+jwt', kid: `${alg}-1` })).toString('base64url')}.${p}.${sig}`;
      expect(await codeOf(baton.verify(swapped))).toBe('ERR_TOKEN_INVALID');
    });
  }
});

describe('the service with BATON_ALG=RS256', () => {
  let server: Awaited<ReturnType<typeof startServer>> | undefined;
  afterAll(() => server?.stop());

  it('issues RS256 access tokens that jose verifies from its published JWKS (RFC 9068 §2.1)', async () => {
    server = await startServer(loadConfig({ PORT: '0', BATON_STORE: 'memory:', BATON_ALG: 'RS256', BATON_LOG_LEVEL: 'silent' }));
    await users.add(server.service.store, 'rsa', 'rsa password 1');
    const login = await fetch(`${server.url}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'rsa', password: 'rsa password 1' }),
    });
    const { access_token } = (await login.json()) as { access_token: string };
    const metadata = (await (await fetch(`${server.url}/.well-known/oauth-authorization-server`)).json()) as { jwks_uri: string };
    const { payload, protectedHeader } = await jwtVerify(access_token, createRemoteJWKSet(new URL(metadata.jwks_uri)), {
      issuer: server.url,
      audience: server.url,
      typ: 'at+jwt',
    });
    expect(protectedHeader.alg).toBe('RS256');
    expect(payload.client_id).toBe('default');
  });
});
