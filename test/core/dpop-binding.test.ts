/**
 * DPoP binding in the engine (RFC 9449 §5, §6, §7): a session opened with a proof is bound to its
 * key for life; its refresh tokens work only with a proof by that key, and a copy without it (or
 * with another key) is refused with nothing changed — no rotation, no reuse detection tripped.
 * Access tokens carry `cnf.jkt` and verify only with a proof by that key, never as Bearer.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeJwt } from 'jose';
import { generateKey } from 'baton-auth';
import { codeOf, ISSUER, makeBaton } from '../support/baton.ts';
import { dpopKey, dpopProof } from '../support/dpop.ts';
import type { DpopKey } from '../support/dpop.ts';

const TOKEN_URL = `${ISSUER}/oauth/token`;
const API = 'https://api.test/orders';

function setup() {
  const made = makeBaton({ refreshGrace: '2s', dpop: { requireNonce: false } });
  const iat = () => Math.floor(made.clock.ms / 1000);
  /** The thumbprint a token-endpoint proof of `key` verifies to. */
  const proofJkt = async (key: DpopKey) =>
    (await made.baton.checkProof(await dpopProof(key, 'POST', TOKEN_URL, { iat: iat() }), { method: 'POST', url: TOKEN_URL })).jkt;
  const present = async (token: string, key: DpopKey, method = 'GET', url = API, signedUrl = url) =>
    made.baton.verify(token, { dpop: { proof: await dpopProof(key, method, signedUrl, { accessToken: token, iat: iat() }), method, url } });
  return { ...made, iat, proofJkt, present };
}

describe('DPoP-bound sessions (RFC 9449 §5)', () => {
  it('a login with a proof binds the session: DPoP token type, cnf.jkt, an rtd_ refresh token', async () => {
    const { baton, proofJkt } = setup();
    const key = await dpopKey();
    const jkt = await proofJkt(key);
    expect(jkt).toBe(key.jkt);
    const pair = await baton.login('alice', { jkt });
    expect(pair.token_type).toBe('DPoP');
    expect(decodeJwt(pair.access_token).cnf).toEqual({ jkt: key.jkt });
    expect(pair.refresh_token.startsWith('rtd_')).toBe(true);
    const [session] = await baton.listSessions('alice');
    expect([session?.id, session?.jkt]).toEqual([pair.session_id, key.jkt]); // the device list says which key holds it
  });

  it('a copied refresh token without the key, or with another key, is refused and the session lives on', async () => {
    const { baton, clock, proofJkt, events } = setup();
    const key = await dpopKey();
    const thief = await dpopKey();
    const pair = await baton.login('alice', { jkt: await proofJkt(key) });
    expect(await codeOf(baton.refresh(pair.refresh_token))).toBe('ERR_REFRESH_INVALID');
    expect(await codeOf(baton.refresh(pair.refresh_token, { jkt: await proofJkt(thief) }))).toBe('ERR_REFRESH_INVALID');
    // The same token refreshes with the key, as generation 0 (nothing rotated before).
    clock.advance(1000);
    const next = await baton.refresh(pair.refresh_token, { jkt: await proofJkt(key) });
    expect(next.token_type).toBe('DPoP');
    expect(next.refresh_token.startsWith('rtd_')).toBe(true);
    expect(events.filter((e) => e.type === 'refresh.rotated')).toHaveLength(1);
    // A retired token presented by the thief long after the grace window: not a reuse, no revocation.
    clock.advance(60_000);
    expect(await codeOf(baton.refresh(pair.refresh_token, { jkt: await proofJkt(thief) }))).toBe('ERR_REFRESH_INVALID');
    expect(await codeOf(baton.refresh(pair.refresh_token))).toBe('ERR_REFRESH_INVALID');
    expect(events.some((e) => e.type === 'refresh.reused' || e.type === 'session.revoked')).toBe(false);
    expect((await baton.refresh(next.refresh_token, { jkt: await proofJkt(key) })).session_id).toBe(pair.session_id);
    // The holder of the key replaying that retired token is a reuse, as without DPoP.
    expect(await codeOf(baton.refresh(pair.refresh_token, { jkt: await proofJkt(key) }))).toBe('ERR_REFRESH_REUSED');
  });

  it('law: a bound session refreshes exactly when the proof is by its key', async () => {
    const { baton, proofJkt, clock } = setup();
    const keys = await Promise.all([dpopKey(), dpopKey('EdDSA'), dpopKey()]);
    const bound = keys[0] as DpopKey;
    let current = (await baton.login('bob', { jkt: await proofJkt(bound) })).refresh_token;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: -1, max: keys.length - 1 }), async (i) => {
        clock.advance(2500); // past the rate limit's window share and the grace window
        const key = keys[i];
        const jkt = key === undefined ? undefined : await proofJkt(key);
        const outcome = await baton.refresh(current, jkt === undefined ? {} : { jkt }).then(
          (p) => p,
          (err: { code: string }) => err.code,
        );
        if (key === bound) {
          expect(typeof outcome).toBe('object');
          current = (outcome as { refresh_token: string }).refresh_token;
        } else {
          expect(outcome).toBe('ERR_REFRESH_INVALID');
        }
      }),
      { numRuns: 40 },
    );
  });

  it('an unbound session refreshed with a proof gets a bound access token; its refresh token stays unbound', async () => {
    const { baton, proofJkt } = setup();
    const key = await dpopKey();
    const pair = await baton.login('carol');
    expect(pair.token_type).toBe('Bearer');
    expect(pair.refresh_token.startsWith('rt_')).toBe(true);
    const next = await baton.refresh(pair.refresh_token, { jkt: await proofJkt(key) });
    expect(next.token_type).toBe('DPoP');
    expect(decodeJwt(next.access_token).cnf).toEqual({ jkt: key.jkt });
    expect(next.refresh_token.startsWith('rt_')).toBe(true);
  });

  it('a thumbprint that is not one is a clear argument error', async () => {
    const { baton } = setup();
    expect(await codeOf(baton.login('dave', { jkt: 'not-a-thumbprint' }))).toBe('ERR_INVALID_ARGUMENT');
  });
});

describe('DPoP-bound access tokens (RFC 9449 §7)', () => {
  it('verify with a proof by the key; refused as Bearer (§7.1), with another key, replayed, or for another URL or method', async () => {
    const { baton, proofJkt, present, iat } = setup();
    const key = await dpopKey();
    const other = await dpopKey();
    const { access_token: token } = await baton.login('erin', { jkt: await proofJkt(key) });
    expect((await present(token, key)).sub).toBe('erin');
    expect(await codeOf(baton.verify(token))).toBe('ERR_TOKEN_SCHEME');
    expect(() => baton.verifySync(token)).toThrow(/bound to a DPoP key/);
    expect(() => baton.verifyLocal(token)).toThrow(/bound to a DPoP key/);
    expect(await codeOf(present(token, other))).toBe('ERR_DPOP_INVALID');
    expect(await codeOf(present(token, key, 'POST', API, API))).toBe('resolved');
    expect(await codeOf(present(token, key, 'GET', API, 'https://api.test/other'))).toBe('ERR_DPOP_INVALID');
    const proof = await dpopProof(key, 'GET', API, { accessToken: token, iat: iat() });
    const dpop = { proof, method: 'GET', url: API };
    expect(await codeOf(baton.verify(token, { dpop }))).toBe('resolved');
    expect(await codeOf(baton.verify(token, { dpop }))).toBe('ERR_DPOP_INVALID'); // the same proof again
    expect(await codeOf(baton.verify(token, { dpop: { ...dpop, method: 'DELETE' } }))).toBe('ERR_DPOP_INVALID');
    // A proof for another token of the same key (ath).
    const { access_token: second } = await baton.login('erin', { jkt: await proofJkt(key) });
    expect(
      await codeOf(baton.verify(token, { dpop: { proof: await dpopProof(key, 'GET', API, { accessToken: second, iat: iat() }), method: 'GET', url: API } })),
    ).toBe('ERR_DPOP_INVALID');
    expect(await codeOf(baton.verify(token, { dpop: { proof: undefined, method: 'GET', url: API } }))).toBe('ERR_DPOP_INVALID');
  });

  it('an unbound token with the DPoP scheme is refused: the scheme says the token is bound', async () => {
    const { baton, present } = setup();
    const key = await dpopKey();
    const { access_token: token } = await baton.login('frank');
    expect(await codeOf(baton.verify(token))).toBe('resolved');
    expect(await codeOf(present(token, key))).toBe('ERR_TOKEN_SCHEME');
  });

  it("client_credentials tokens bind to the proof's key too", async () => {
    const { baton, proofJkt } = setup();
    const key = await dpopKey();
    const issued = await baton.issueClientToken({ clientId: 'reports', jkt: await proofJkt(key) });
    expect(issued.token_type).toBe('DPoP');
    expect(decodeJwt(issued.access_token).cnf).toEqual({ jkt: key.jkt });
  });

  it.each(['opaque', 'jwe'] as const)('%s tokens carry the binding too', async (tokenFormat) => {
    const keys = [generateKey('HS256', 'hs'), generateKey('dir', 'enc')];
    const { baton, clock } = makeBaton({ tokenFormat, keys, dpop: { requireNonce: false } });
    const key = await dpopKey();
    const { access_token: token } = await baton.login('gina', { jkt: key.jkt });
    expect(await codeOf(baton.verify(token))).toBe('ERR_TOKEN_SCHEME');
    const proof = await dpopProof(key, 'GET', API, { accessToken: token, iat: Math.floor(clock.ms / 1000) });
    expect((await baton.verify(token, { dpop: { proof, method: 'GET', url: API } })).cnf).toEqual({ jkt: key.jkt });
    expect(await baton.introspect(token)).toMatchObject({ active: true, token_type: 'DPoP', cnf: { jkt: key.jkt } });
  });
});

describe('introspection and revocation of bound tokens', () => {
  it('introspection names the key (cnf) of access and refresh tokens (RFC 9449 §6.2)', async () => {
    const { baton, proofJkt } = setup();
    const key = await dpopKey();
    const pair = await baton.login('hana', { jkt: await proofJkt(key) });
    expect(await baton.introspect(pair.access_token)).toMatchObject({ active: true, token_type: 'DPoP', cnf: { jkt: key.jkt } });
    expect(await baton.introspect(pair.refresh_token)).toMatchObject({ active: true, cnf: { jkt: key.jkt }, sid: pair.session_id });
    expect(await baton.introspect(pair.refresh_token.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')))).toEqual({ active: false });
  });

  it('a bound refresh token is revoked without a proof (RFC 7009 asks none) or with one by its key; a proof by another key is refused and revokes nothing', async () => {
    const { baton, proofJkt } = setup();
    const key = await dpopKey();
    const thief = await dpopKey();
    const pair = await baton.login('ivan', { jkt: await proofJkt(key) });
    expect(await codeOf(baton.revoke(pair.refresh_token, { jkt: await proofJkt(thief) }))).toBe('ERR_DPOP_INVALID');
    expect(await codeOf(baton.revoke(pair.refresh_token.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'))))).toBe('resolved'); // a forged one: nothing
    expect(await baton.listSessions('ivan')).toHaveLength(1);
    await baton.revoke(pair.refresh_token, { jkt: await proofJkt(key) });
    expect(await baton.listSessions('ivan')).toHaveLength(0);
    // Without a proof: what a standard client (openid-client, oauth4webapi) sends, and all a thief can do — end it.
    const second = await baton.login('ivan', { jkt: await proofJkt(key) });
    await baton.revoke(second.refresh_token);
    expect(await baton.listSessions('ivan')).toHaveLength(0);
    expect(await codeOf(baton.refresh(second.refresh_token, { jkt: await proofJkt(key) }))).toBe('ERR_SESSION_ENDED');
  });

  it('a bound access token is revoked without a proof or with one by its key; a proof by another key is refused and it stays valid', async () => {
    const { baton, proofJkt, present } = setup();
    const key = await dpopKey();
    const thief = await dpopKey();
    const first = await baton.login('judy', { jkt: await proofJkt(key) });
    expect(await codeOf(baton.revoke(first.access_token, { jkt: await proofJkt(thief) }))).toBe('ERR_DPOP_INVALID');
    expect((await present(first.access_token, key)).sub).toBe('judy');
    await baton.revoke(first.access_token);
    expect(await codeOf(present(first.access_token, key))).toBe('ERR_TOKEN_REVOKED');
    const second = await baton.login('judy', { jkt: await proofJkt(key) });
    await baton.revoke(second.access_token, { jkt: await proofJkt(key) });
    expect(await codeOf(present(second.access_token, key))).toBe('ERR_TOKEN_REVOKED');
  });
});
