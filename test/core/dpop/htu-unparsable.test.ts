/**
 * Found by a red-team review (each test failed before its fix): DpopVerifier compares `htu(requestUrl) === htu(proof.htu)` where `htu()` returns
 * undefined for a string that is not a URL: when the request URL cannot be parsed, any proof whose
 * htu cannot be parsed either matches (undefined === undefined). Express and Fastify requireAuth
 * build the request URL by concatenation, so an absolute-form request target
 * (`GET http://x/api/profile HTTP/1.1`, routed normally) or a Host header such as `[` makes it
 * unparsable: a proof with `htu: "x"` (bound to no URL at all) is then accepted on any route.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBaton, generateKey } from 'baton-auth';
import { memoryStore } from 'baton-auth/stores/memory';
import { randomBytes } from 'node:crypto';
import { boundLogin, raw } from './helpers.ts';
import { dpopKey, dpopProof } from '../../support/dpop.ts';
import { frameworks, startDemo } from '../../support/frameworks.ts';
import type { Started } from '../../support/frameworks.ts';

describe('the engine: an unparsable request URL', () => {
  it('checkProof refuses a proof whose htu is not a URL when the request URL is not one either', async () => {
    const baton = createBaton({
      issuer: 'https://auth.test',
      keys: [generateKey('ES256')],
      refreshTokenSecret: randomBytes(32),
      store: memoryStore(),
      dpop: { requireNonce: false },
    });
    const key = await dpopKey();
    const outcome = await baton
      .checkProof(await dpopProof(key, 'POST', 'not a url'), { method: 'POST', url: 'http://host:port-is-not-a-number/oauth/token' })
      .then(
        () => 'accepted',
        (e: { code?: string }) => e.code,
      );
    expect(outcome).toBe('ERR_DPOP_INVALID');
  });

  it('verify refuses a bound token whose proof names no URL, presented with an unparsable request URL', async () => {
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
    const outcome = await baton
      .verify(access_token, { dpop: { proof: await dpopProof(key, 'GET', '%%%', { accessToken: access_token }), method: 'GET', url: 'http://[/x' } })
      .then(
        () => 'accepted',
        (e: { code?: string }) => e.code,
      );
    expect(outcome).toBe('ERR_DPOP_INVALID');
  });
});

describe.each(['express', 'fastify'] as const)('%s requireAuth: absolute-form request target or a broken Host', (name) => {
  let server: Started;
  beforeAll(async () => {
    server = await frameworks[name](startDemo());
  });
  afterAll(() => server.close());

  it('GET http://x/api/profile (absolute form) with a proof whose htu is "x" is refused', async () => {
    const key = await dpopKey();
    const pair = await boundLogin(server.url, key);
    const res = await raw(server.port, 'GET', 'http://x/api/profile', {
      host: `127.0.0.1:${server.port}`,
      authorization: `DPoP ${pair.access_token}`,
      dpop: await dpopProof(key, 'GET', 'x', { accessToken: pair.access_token }),
    });
    expect(res.status, res.body).toBe(401);
  });

  it('Host: [ with a proof whose htu is "x" is refused', async () => {
    const key = await dpopKey();
    const pair = await boundLogin(server.url, key);
    const res = await raw(server.port, 'GET', '/api/profile', {
      host: '[',
      authorization: `DPoP ${pair.access_token}`,
      dpop: await dpopProof(key, 'GET', 'x', { accessToken: pair.access_token }),
    });
    expect(res.status, res.body).toBe(401);
  });
});
