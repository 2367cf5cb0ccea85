/**
 * `/oauth/userinfo` (OIDC Core §5.3): the access token as `/auth/me` takes it, `openid` required,
 * `{ sub, ...claims }` for the granted scope, `no-store`, CORS like the other token endpoints.
 */
import { describe, expect, it } from 'vitest';
import { dpopKey, dpopProof } from '../support/dpop.ts';
import { oidcSetup } from '../support/oidc.ts';

const URL_ = 'https://auth.test/oauth/userinfo';

function withClaims() {
  const asked: { userId: string; scope: readonly string[] }[] = [];
  const s = oidcSetup('EdDSA', {
    allowedOrigins: ['https://app.test'],
    authorization: {
      claims: async (userId, scope) => {
        asked.push({ userId, scope });
        return {
          ...(scope.includes('profile') ? { preferred_username: userId.slice(3) } : {}),
          ...(scope.includes('email') ? { email: `${userId.slice(3)}@example.com`, email_verified: true } : {}),
          sub: 'someone-else', // never replaces the token's sub (§5.3.2)
        };
      },
    },
  });
  return { ...s, asked };
}

describe('/oauth/userinfo', () => {
  it('answers { sub, claims } for the token’s scope, GET and POST, no-store', async () => {
    const { baton, call, asked } = withClaims();
    const { access_token } = await baton.login('id-alice', { clientId: 'web', scope: 'openid profile' });
    for (const method of ['GET', 'POST']) {
      const res = await call('/oauth/userinfo', { method, headers: { authorization: `Bearer ${access_token}` } });
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(await res.json()).toEqual({ sub: 'id-alice', preferred_username: 'alice' });
    }
    expect(asked).toEqual([
      { userId: 'id-alice', scope: ['openid', 'profile'] },
      { userId: 'id-alice', scope: ['openid', 'profile'] },
    ]);
    const both = await baton.login('id-bob', { clientId: 'web', scope: 'openid email profile' });
    const res = await call('/oauth/userinfo', { headers: { authorization: `Bearer ${both.access_token}` } });
    expect(await res.json()).toEqual({ sub: 'id-bob', preferred_username: 'bob', email: 'bob@example.com', email_verified: true });
  });

  it('without openid in the token’s scope: 403 insufficient_scope (RFC 6750 §3.1), the claims never asked', async () => {
    const { baton, call, asked } = withClaims();
    const { access_token } = await baton.login('id-alice', { clientId: 'web', scope: 'profile email' });
    const res = await call('/oauth/userinfo', { headers: { authorization: `Bearer ${access_token}` } });
    expect(res.status).toBe(403);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="baton", error="insufficient_scope".*scope="openid"/);
    expect(await res.json()).toMatchObject({ error: 'insufficient_scope' });
    expect(asked).toEqual([]);
  });

  it('without a token, or with one in the query or the body: refused', async () => {
    const { baton, call } = withClaims();
    const { access_token } = await baton.login('id-alice', { clientId: 'web', scope: 'openid' });
    expect((await call('/oauth/userinfo')).status).toBe(401);
    expect((await call(`/oauth/userinfo?access_token=${access_token}`)).status).toBe(400);
    const form = { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `access_token=${access_token}` };
    expect((await call('/oauth/userinfo', form)).status).toBe(401);
    expect((await call('/oauth/userinfo', { headers: { authorization: `Bearer ${access_token}x` } })).status).toBe(401);
  });

  it('a DPoP-bound token: with a proof by its key 200; as Bearer, or without openid, refused with a DPoP challenge', async () => {
    const { baton, call } = withClaims();
    const key = await dpopKey();
    const bound = await baton.login('id-alice', { clientId: 'web', scope: 'openid profile', jkt: key.jkt });
    expect(bound.token_type).toBe('DPoP');
    const get = async (token: string, scheme = 'DPoP') =>
      call('/oauth/userinfo', { headers: { authorization: `${scheme} ${token}`, dpop: await dpopProof(key, 'GET', URL_, { accessToken: token }) } });
    const ok = await get(bound.access_token);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ sub: 'id-alice', preferred_username: 'alice' });
    expect((await get(bound.access_token, 'Bearer')).status).toBe(401);
    const other = await dpopKey();
    const stolen = await call('/oauth/userinfo', {
      headers: { authorization: `DPoP ${bound.access_token}`, dpop: await dpopProof(other, 'GET', URL_, { accessToken: bound.access_token }) },
    });
    expect(stolen.status).toBe(401);
    const noOpenid = await baton.login('id-alice', { clientId: 'web', scope: 'profile', jkt: key.jkt });
    const refused = await get(noOpenid.access_token);
    expect(refused.status).toBe(403);
    expect(refused.headers.get('www-authenticate')).toMatch(/^DPoP .*error="insufficient_scope"/);
  });

  it('CORS like /auth/me: an allowed origin reads the answer (no credentials), another is refused', async () => {
    const { baton, call } = withClaims();
    const { access_token } = await baton.login('id-alice', { clientId: 'web', scope: 'openid' });
    const ok = await call('/oauth/userinfo', { headers: { authorization: `Bearer ${access_token}`, origin: 'https://app.test' } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('access-control-allow-origin')).toBe('https://app.test');
    expect(ok.headers.get('access-control-allow-credentials')).toBeNull();
    const evil = await call('/oauth/userinfo', { headers: { authorization: `Bearer ${access_token}`, origin: 'https://evil.test' } });
    expect(evil.status).toBe(403);
    expect(evil.headers.get('access-control-allow-origin')).toBeNull();
    const pre = await call('/oauth/userinfo', { method: 'OPTIONS', headers: { origin: 'https://app.test', 'access-control-request-method': 'GET' } });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-headers')).toMatch(/Authorization.*DPoP/);
  });

  it('a token for an API (RFC 8707 resource) is not one for the UserInfo endpoint: 401, as at /auth/me', async () => {
    const { baton, call } = oidcSetup('EdDSA', { resources: ['https://api.test'] });
    const { access_token } = await baton.login('id-alice', { clientId: 'web', scope: 'openid', resource: 'https://api.test' });
    const res = await call('/oauth/userinfo', { headers: { authorization: `Bearer ${access_token}` } });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
  });

  it('without a claims function: only sub', async () => {
    const { baton, call } = oidcSetup('EdDSA');
    const { access_token } = await baton.login('id-alice', { clientId: 'web', scope: 'openid profile' });
    expect(await (await call('/oauth/userinfo', { headers: { authorization: `Bearer ${access_token}` } })).json()).toEqual({ sub: 'id-alice' });
  });
});
