/**
 * Red team of the verification pipeline's JWE format (`core/local-sources.ts`'s `storeFormats`):
 * an encryption key revoked while a JWE that it decrypts is being decrypted. The engine's ring
 * clears the verified-token cache when a key leaves it, but a decryption already under way
 * finished after the clear and put its token in the cache: served from there, without the key,
 * until its `exp`. A test fails if the attack works.
 */
import { randomBytes } from 'node:crypto';
import { expect, it } from 'vitest';
import { createBaton, generateKey } from 'baton-auth';
import { memoryStore } from 'baton-auth/stores/memory';

it('a JWE whose key was revoked during its decryption is not served from the cache afterwards', async () => {
  const enc = generateKey('dir', 'enc-1');
  const baton = createBaton({
    issuer: 'https://auth.test',
    keys: [generateKey('ES256', 'sig-1'), enc],
    refreshTokenSecret: randomBytes(32),
    store: memoryStore(),
    tokenFormat: 'jwe',
  });
  try {
    await baton.ready();
    const { access_token: jwe } = await baton.login('ada');
    const { access_token: control } = await baton.login('bob'); // never verified before the revocation
    expect(jwe.split('.')).toHaveLength(5);
    const first = baton.verify(jwe).then(
      () => 'accepted',
      (err: { code?: string }) => err.code,
    );
    const revoked = await baton.revokeKey('enc-1');
    expect(revoked).toBe(true);
    expect(await first).toBe('ERR_TOKEN_INVALID'); // it finished after the revocation, as remoteIssuer's JWKS does
    await expect(baton.verify(control)).rejects.toMatchObject({ code: 'ERR_TOKEN_INVALID' });
    await expect(baton.verify(jwe)).rejects.toMatchObject({ code: 'ERR_TOKEN_INVALID' });
  } finally {
    await baton.close();
  }
});
