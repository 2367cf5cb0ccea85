/**
 * Found by a red-team review (each test failed before its fix): with `oneTime` (requireAuth's replay guard, `verify(token, { oneTime: true })`), the
 * access token's jti is spent in the store before the scheme and the DPoP proof are checked
 * (verifySlow consumes it; bearerOnly / checkPresentation refuse afterwards). Whoever holds a
 * copy of a DPoP-bound token but not its key — the very attacker DPoP defeats — can still spend
 * it: send it as Bearer, or as DPoP with any proof, and the rightful client's request, with a
 * good proof by the bound key, is then refused as a replay. A client whose proof was refused for
 * a benign reason (clock skew, a nonce) loses its token the same way.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBaton, generateKey } from 'baton-auth';
import { memoryStore } from 'baton-auth/stores/memory';
import { randomBytes } from 'node:crypto';
import { boundLogin } from './helpers.ts';
import { dpopKey, dpopProof } from '../../support/dpop.ts';
import { frameworks, startDemo } from '../../support/frameworks.ts';
import type { Started } from '../../support/frameworks.ts';

describe.each(['express', 'fastify', 'hono'] as const)('%s: a one-time route (POST /api/transfer)', (name) => {
  let server: Started;
  beforeAll(async () => {
    server = await frameworks[name](startDemo());
  });
  afterAll(() => server.close());

  for (const [how, attack] of [
    ['as Bearer', (token: string) => ({ authorization: `Bearer ${token}` })],
    ['as DPoP without a proof', (token: string) => ({ authorization: `DPoP ${token}` })],
  ] as const) {
    it(`a copy of the bound token sent ${how} (no key) does not spend it: the holder of the key still gets through`, async () => {
      const key = await dpopKey();
      const pair = await boundLogin(server.url, key);
      const url = `${server.url}/api/transfer`;
      const stolen = await fetch(url, { method: 'POST', headers: attack(pair.access_token) });
      expect(stolen.status).toBe(401);
      const rightful = await fetch(url, {
        method: 'POST',
        headers: { authorization: `DPoP ${pair.access_token}`, dpop: await dpopProof(key, 'POST', url, { accessToken: pair.access_token }) },
      });
      expect(rightful.status, await rightful.text()).toBe(200);
    });
  }
});

describe('the engine', () => {
  it('verify(boundToken, { oneTime: true }) without a proof leaves the token for its key holder', async () => {
    const baton = createBaton({
      issuer: 'https://auth.test',
      keys: [generateKey('ES256')],
      refreshTokenSecret: randomBytes(32),
      store: memoryStore(),
      dpop: { requireNonce: false },
    });
    const key = await dpopKey();
    const jkt = (
      await baton.checkProof(await dpopProof(key, 'POST', 'https://auth.test/oauth/token'), { method: 'POST', url: 'https://auth.test/oauth/token' })
    ).jkt;
    const { access_token } = await baton.login('alice', { jkt });
    await expect(baton.verify(access_token, { oneTime: true })).rejects.toMatchObject({ code: 'ERR_TOKEN_SCHEME' });
    const url = 'https://auth.test/api';
    const claims = await baton
      .verify(access_token, { oneTime: true, dpop: { proof: await dpopProof(key, 'GET', url, { accessToken: access_token }), method: 'GET', url } })
      .then(
        () => 'accepted',
        (e: { code?: string }) => e.code,
      );
    expect(claims).toBe('accepted');
  });
});
