/**
 * DPoP in a server-rendered app (RFC 9449): the tokens are bound to a key the app's server holds.
 * A refresh cookie copied out of the browser and replayed at the service without that key is
 * refused before the session is touched — no rotation, no reuse detection, the user still signed in.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPair } from 'jose';
import { createServerSession } from 'baton-auth/ssr';
import type { ServerSession } from 'baton-auth/ssr';
import { dpopKey, postWithProof } from '../support/dpop.ts';
import { startTestService } from '../support/service.ts';
import type { TestService } from '../support/service.ts';

const USER = { username: 'ada', password: 'ada password 1' };
let service: TestService;
let session: ServerSession;
let jkt: string;
const rotations: string[] = [];
const reuses: string[] = [];

const rtOf = (setCookies: string[]) =>
  (setCookies.find((s) => s.startsWith('__Host-baton_rt=')) ?? '').split(';')[0]?.slice('__Host-baton_rt='.length) as string;

beforeAll(async () => {
  service = await startTestService({}, USER);
  service.server.service.baton.on('refresh.rotated', (e) => rotations.push(e.type));
  service.server.service.baton.on('refresh.reused', (e) => reuses.push(e.type));
  const key = await generateKeyPair('ES256');
  session = createServerSession({ issuer: service.url, clientId: 'default', dpop: { alg: 'ES256', ...key } });
  const { calculateJwkThumbprint, exportJWK } = await import('jose');
  const { kty, crv, x, y } = await exportJWK(key.publicKey);
  jkt = await calculateJwkThumbprint({ kty, crv, x, y } as never);
});
afterAll(async () => {
  session?.close();
  await service?.stop();
});

describe("tokens bound to the app server's key", () => {
  it("signs in and refreshes with the server's proofs: the access token's cnf.jkt is the server's key", async () => {
    const signed = await session.signIn(USER);
    expect(signed.state.status === 'signed-in' && signed.state.claims.cnf?.jkt).toBe(jkt);
    const outcome = await session.refresh(`__Host-baton_rt=${rtOf(signed.setCookies)}`);
    expect(outcome.state.status === 'signed-in' && outcome.state.claims.cnf?.jkt).toBe(jkt);
  });

  it('a stolen refresh cookie replayed at the service without the key, or with a key of its own, is refused and changes nothing', async () => {
    const signed = await session.signIn(USER);
    const stolen = rtOf(signed.setCookies);
    const before = rotations.length;
    const bare = await fetch(`${service.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: stolen, client_id: 'default' }),
    });
    expect([bare.status, ((await bare.json()) as { error: string }).error]).toEqual([400, 'invalid_grant']);
    const thief = await dpopKey('ES256');
    const ownKey = await postWithProof(thief, `${service.url}/oauth/token`, { grant_type: 'refresh_token', refresh_token: stolen, client_id: 'default' });
    expect([ownKey.status, ((await ownKey.json()) as { error: string }).error]).toEqual([400, 'invalid_grant']);
    expect([rotations.length - before, reuses.length]).toEqual([0, 0]);
    // The user's session is untouched: the app refreshes it as before.
    expect((await session.refresh(`__Host-baton_rt=${stolen}`)).state.status).toBe('signed-in');
  });

  it("the bound access token is refused as a Bearer token by the service's own resource endpoints", async () => {
    const signed = await session.signIn(USER);
    const at = (signed.setCookies[0] ?? '').split(';')[0]?.slice('__Host-baton_at='.length) as string;
    const me = await fetch(`${service.url}/auth/me`, { headers: { authorization: `Bearer ${at}` } });
    expect(me.status).toBe(401);
  });

  it('a key that is not the alg it is named as fails when created', async () => {
    const ed = await generateKeyPair('EdDSA');
    expect(() => createServerSession({ issuer: service.url, clientId: 'default', dpop: { alg: 'ES256', ...ed } })).toThrow(/ECDSA P-256/);
  });
});
