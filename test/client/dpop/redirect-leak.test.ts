/**
 * Found by a red-team review (each test failed before its fix): an allowed API that redirects (an open redirect, a misrouted 307) hands the
 * request to another origin, and undici/browsers forward the custom `DPoP` header there (only
 * `Authorization` is dropped on a cross-origin redirect). The foreign origin then answers 401
 * `use_dpop_nonce` with a nonce of its choice: the SDK files it under the ALLOWED origin, retries
 * (a second proof, signed with the foreign nonce, forwarded to the foreign origin again), and every
 * later proof to the allowed origin carries the foreign nonce.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { boundClient, hostile, proofPayload, redirectingApi, service } from './helpers.ts';
import type { Hostile } from './helpers.ts';

let s: Awaited<ReturnType<typeof service>>;
let foreign: Hostile;
let api: Hostile;
beforeAll(async () => {
  s = await service();
  foreign = await hostile((_req, res) => res.writeHead(401, { 'www-authenticate': 'DPoP error="use_dpop_nonce"', 'dpop-nonce': 'planted-by-foreign' }).end());
  // The allowed API: /go redirects (307) to the foreign origin; /ok answers 200.
  api = await redirectingApi(() => foreign.url);
});
afterAll(async () => {
  await foreign.close();
  await api.close();
  await s.stop();
});

describe('client.fetch across a redirect from an allowed origin', () => {
  it('never forwards a DPoP proof to the foreign origin', async () => {
    const { client } = await boundClient(s, { allowedOrigins: [api.url] });
    foreign.hits.length = 0;
    await client.fetch(`${api.url}/go`);
    expect(foreign.hits.length).toBeGreaterThan(0);
    expect(foreign.hits.map((h) => h.headers.authorization)).toEqual(foreign.hits.map(() => undefined)); // undici drops this one
    expect(foreign.hits.map((h) => h.headers.dpop)).toEqual(foreign.hits.map(() => undefined)); // failed before the fix: the proof is forwarded
  });

  it('a foreign 401 use_dpop_nonce reached through a redirect is not answered with a second proof signed with the foreign nonce', async () => {
    const { client } = await boundClient(s, { allowedOrigins: [api.url] });
    foreign.hits.length = 0;
    await client.fetch(`${api.url}/go`);
    const nonces = await Promise.all(foreign.hits.filter((h) => h.headers.dpop).map(async (h) => (await proofPayload(h.headers.dpop as string)).nonce));
    expect(nonces).not.toContain('planted-by-foreign'); // failed before the fix: the SDK retried with the foreign origin's nonce
    expect(foreign.hits).toHaveLength(1); // failed before the fix: 2
  });

  it('a nonce from the foreign origin is never filed under the allowed origin', async () => {
    const { client } = await boundClient(s, { allowedOrigins: [api.url] });
    await client.fetch(`${api.url}/go`);
    const before = api.hits.length;
    await client.fetch(`${api.url}/ok`);
    const proof = await proofPayload(api.hits[before]?.headers.dpop as string);
    expect(proof.nonce).not.toBe('planted-by-foreign'); // failed before the fix: the allowed origin now gets the foreign nonce
  });
});
