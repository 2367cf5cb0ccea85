/**
 * Red-team regression, fixed; each failed before (generic issuers): issuer.ts:219 accepts any `active: true` answer with iss and aud, without
 * looking at token_type / token_use: a Hydra-style refresh token (aud granted, token_use refresh_token)
 * is accepted as a bearer access token.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { remoteIssuer } from 'baton-auth/remote';
import { API, mockIssuer } from './mock-issuer.ts';

let issuer: Awaited<ReturnType<typeof mockIssuer>>;
beforeAll(async () => {
  issuer = await mockIssuer({
    introspect: (_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          active: true,
          iss: issuer.url,
          aud: [API],
          sub: 'ada',
          client_id: 'c',
          token_use: 'refresh_token',
          token_type: 'refresh_token',
          exp: Math.floor(Date.now() / 1000) + 86_400 * 30,
        }),
      );
    },
  });
});
afterAll(() => issuer.close());

it('refuses a refresh token presented as an access token', async () => {
  const v = remoteIssuer({ issuer: issuer.url, audience: API, introspection: { clientId: 'rs', clientSecret: 's' }, revocations: false });
  await expect(v.verify('ory_rt_opaque-refresh-token')).rejects.toThrow(); // a refresh token never passes as an access token
  v.close();
});
