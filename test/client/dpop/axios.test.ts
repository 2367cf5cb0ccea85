/**
 * FINDINGS (axios): the interceptors decide "ours" from `config.url` over `config.baseURL` as a
 * browser would resolve them, but axios (1) with `allowAbsoluteUrls: false` always appends the url
 * to the baseURL, and (2) in Node follows redirects itself (follow-redirects), forwarding the custom
 * `DPoP` header to the new host, and its error carries no sign that the 401 came from elsewhere.
 */
import axios from 'axios';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { axiosInterceptors } from 'baton-auth-client';
import { boundClient, hostile, proofPayload, redirectingApi, service } from './helpers.ts';
import type { Hostile } from './helpers.ts';

let s: Awaited<ReturnType<typeof service>>;
let foreign: Hostile;
let api: Hostile;
let foreignAnswer: 'nonce' | 'plain' = 'nonce';
beforeAll(async () => {
  s = await service();
  foreign = await hostile((_req, res) => {
    if (foreignAnswer === 'nonce') res.writeHead(401, { 'www-authenticate': 'DPoP error="use_dpop_nonce"', 'dpop-nonce': 'planted-by-foreign' }).end();
    else res.writeHead(401, { 'www-authenticate': 'DPoP error="invalid_token"' }).end();
  });
  api = await redirectingApi(() => foreign.url);
});
afterAll(async () => {
  await foreign.close();
  await api.close();
  await s.stop();
});

function instance(client: Parameters<typeof axiosInterceptors>[0], config: Parameters<typeof axios.create>[0]) {
  const ax = axios.create(config);
  const { request, response } = axiosInterceptors(client, ax);
  ax.interceptors.request.use(request);
  ax.interceptors.response.use(undefined, response);
  return ax;
}

describe('axios interceptors', () => {
  it('allowAbsoluteUrls: false — an absolute url of the issuer on an instance of a foreign baseURL sends the bound token and a proof to the foreign origin', async () => {
    const { client, tokens } = await boundClient(s);
    // An instance for a third-party API; allowAbsoluteUrls: false is axios's own SSRF guard (the path may come from input).
    const partner = instance(client, { baseURL: foreign.url, allowAbsoluteUrls: false, validateStatus: () => true });
    foreign.hits.length = 0;
    await partner.get(`${s.url}/auth/me`);
    expect(foreign.hits).toHaveLength(1);
    expect(foreign.hits[0]?.url).toBe(`/${s.url}/auth/me`); // axios went to the baseURL
    expect(foreign.hits[0]?.headers.authorization).toBeUndefined(); // FAILS: `DPoP <bound access token>`
    expect(foreign.hits[0]?.headers.authorization).not.toBe(`DPoP ${tokens.accessToken}`);
    expect(foreign.hits[0]?.headers.dpop).toBeUndefined();
  });

  it('a redirect from the allowed API does not forward the proof to the foreign origin', async () => {
    const { client } = await boundClient(s, { allowedOrigins: [api.url] });
    const ax = instance(client, { baseURL: api.url });
    foreignAnswer = 'nonce';
    foreign.hits.length = 0;
    await ax.get('/go').catch(() => undefined);
    expect(foreign.hits.length).toBeGreaterThan(0);
    expect(foreign.hits.map((h) => h.headers.authorization)).toEqual(foreign.hits.map(() => undefined)); // follow-redirects drops this one
    expect(foreign.hits.map((h) => h.headers.dpop)).toEqual(foreign.hits.map(() => undefined)); // FAILS: the proof goes along
  });

  it('a foreign 401 use_dpop_nonce after a redirect plants its nonce under the allowed origin and gets a second proof signed with it', async () => {
    const { client } = await boundClient(s, { allowedOrigins: [api.url] });
    const ax = instance(client, { baseURL: api.url });
    foreignAnswer = 'nonce';
    foreign.hits.length = 0;
    await ax.get('/go').catch(() => undefined);
    const nonces = await Promise.all(foreign.hits.filter((h) => h.headers.dpop).map(async (h) => (await proofPayload(h.headers.dpop as string)).nonce));
    expect(nonces).not.toContain('planted-by-foreign'); // FAILS
    const before = api.hits.length;
    await ax.get('/ok');
    expect((await proofPayload(api.hits[before]?.headers.dpop as string)).nonce).not.toBe('planted-by-foreign'); // FAILS
  });

  it('a foreign 401 after a redirect spends no refresh (client.fetch already guards this; axios does not)', async () => {
    const { client } = await boundClient(s, { allowedOrigins: [api.url] });
    const ax = instance(client, { baseURL: api.url });
    foreignAnswer = 'plain';
    const before = s.rotations();
    await ax.get('/go').catch(() => undefined);
    expect(s.rotations()).toBe(before); // FAILS: the foreign 401 rotated the session
  });
});
