/**
 * FINDING (nonce → refresh): a resource server (an allowed origin) that answers every request with
 * 401 `use_dpop_nonce` gets the one nonce retry — and then its second `use_dpop_nonce` is taken as
 * an expired token: a refresh is spent and two more requests go out. Every call rotates the
 * session (and can push it into the issuer's refresh rate limit).
 */
import axios from 'axios';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { axiosInterceptors } from 'baton-auth-client';
import { boundClient, hostile, service } from './helpers.ts';
import type { Hostile } from './helpers.ts';

let s: Awaited<ReturnType<typeof service>>;
let api: Hostile;
beforeAll(async () => {
  s = await service();
  let n = 0;
  api = await hostile((_req, res) => res.writeHead(401, { 'www-authenticate': 'DPoP error="use_dpop_nonce"', 'dpop-nonce': `n-${++n}` }).end());
});
afterAll(async () => {
  await api.close();
  await s.stop();
});

describe('use_dpop_nonce spends no refresh', () => {
  it('client.fetch: one nonce retry, no refresh', async () => {
    const { client } = await boundClient(s, { allowedOrigins: [api.url] });
    const before = s.rotations();
    api.hits.length = 0;
    expect((await client.fetch(`${api.url}/orders`)).status).toBe(401);
    expect(s.rotations()).toBe(before); // FAILS: 1 refresh
    expect(api.hits).toHaveLength(2); // FAILS: 4
  });

  it('axios: one nonce retry, no refresh', async () => {
    const { client } = await boundClient(s, { allowedOrigins: [api.url] });
    const ax = axios.create({ baseURL: api.url });
    const { request, response } = axiosInterceptors(client, ax);
    ax.interceptors.request.use(request);
    ax.interceptors.response.use(undefined, response);
    const before = s.rotations();
    api.hits.length = 0;
    await ax.get('/orders').catch(() => undefined);
    expect(s.rotations()).toBe(before); // FAILS: 1 refresh
    expect(api.hits).toHaveLength(2); // FAILS: 3
  });
});
