/**
 * Red team of the verification pipeline's last steps (`core/pipeline.ts`, `core/presentation.ts`),
 * against the engine and `remoteIssuer` alike: revocations through the verified-token cache, DPoP
 * binding (RFC 9449 §7) from the cache, one-time things (a proof's `jti`, `oneTime`) never spent by
 * a request refused for another reason, and a key revoked after its tokens were cached. A test fails
 * if the attack works.
 */
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { dpopKey, dpopProof } from '../support/dpop.ts';
import type { DpopKey } from '../support/dpop.ts';
import { API, decision, setup, sign, verifiers, verifyWith } from './pipeline-harness.ts';
import type { Harness, Verifier } from './pipeline-harness.ts';

const h = setup();
const URL_ = 'https://api.test/orders';
let holder: DpopKey;
let thief: DpopKey;

beforeAll(async () => {
  [holder, thief] = await Promise.all([dpopKey(), dpopKey()]);
});

/** Until `ok()` or two seconds: the feed reaches remoteIssuer within milliseconds. */
async function eventually(ok: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200 && !(await ok()); i++) await new Promise((r) => setTimeout(r, 10));
}

const presented = (proof: string, audience = API, method = 'GET', url = URL_) => ({ audience, dpop: { proof, method, url } });
const sync = (hh: Harness, v: Verifier, token: string) => () =>
  v === 'engine' ? hh.baton.verifySync(token, { audience: API }) : hh.rs.verifySync?.(token, { audience: API });

describe('revocations through the verified-token cache', () => {
  it('a token revoked after both verifiers cached it is refused by both, async and sync', async () => {
    const token = await sign();
    for (const v of verifiers) expect(await decision(verifyWith(h, v, token))).toBe('accepted');
    await h.baton.revoke(token);
    await eventually(async () => (await decision(verifyWith(h, 'remote', token))) !== 'accepted');
    for (const v of verifiers) {
      expect({ v, d: await decision(verifyWith(h, v, token)) }).toEqual({ v, d: 'ERR_TOKEN_REVOKED' });
      expect(sync(h, v, token)).toThrow(expect.objectContaining({ code: 'ERR_TOKEN_REVOKED' }));
    }
  });
});

describe('DPoP binding, from the cache too', () => {
  it('a bound token verified with its proof, then sent as Bearer, or with a proof by another key, or for another token, URL or method: refused', async () => {
    const token = await sign({ cnf: { jkt: holder.jkt } });
    const other = await sign({ cnf: { jkt: holder.jkt } });
    for (const v of verifiers) {
      expect(await decision(verifyWith(h, v, token, presented(await dpopProof(holder, 'GET', URL_, { accessToken: token }))))).toBe('accepted');
      expect({ v, bearer: await decision(verifyWith(h, v, token)) }).toEqual({ v, bearer: 'ERR_TOKEN_SCHEME' });
      expect(sync(h, v, token)).toThrow(expect.objectContaining({ code: 'ERR_TOKEN_SCHEME' }));
      const attempts = {
        thiefKey: presented(await dpopProof(thief, 'GET', URL_, { accessToken: token })),
        otherToken: presented(await dpopProof(holder, 'GET', URL_, { accessToken: other })),
        noAth: presented(await dpopProof(holder, 'GET', URL_)),
        otherUrl: presented(await dpopProof(holder, 'GET', 'https://evil.test/orders', { accessToken: token })),
        otherMethod: presented(await dpopProof(holder, 'DELETE', URL_, { accessToken: token })),
        noProof: { audience: API, dpop: { proof: undefined, method: 'GET', url: URL_ } },
      };
      for (const [name, o] of Object.entries(attempts))
        expect({ v, name, d: await decision(verifyWith(h, v, token, o)) }).toEqual({ v, name, d: expect.stringMatching(/^ERR_DPOP_/) });
    }
  });

  it('a proof replayed is refused; an unbound token under the DPoP scheme is refused', async () => {
    const token = await sign({ cnf: { jkt: holder.jkt } });
    const unbound = await sign();
    for (const v of verifiers) {
      const proof = await dpopProof(holder, 'GET', URL_, { accessToken: token });
      expect(await decision(verifyWith(h, v, token, presented(proof)))).toBe('accepted');
      expect({ v, replay: await decision(verifyWith(h, v, token, presented(proof))) }).toEqual({ v, replay: expect.stringMatching(/^ERR_DPOP_/) });
      const forUnbound = presented(await dpopProof(holder, 'GET', URL_, { accessToken: unbound }));
      expect({ v, d: await decision(verifyWith(h, v, unbound, forUnbound)) }).toEqual({ v, d: 'ERR_TOKEN_SCHEME' });
    }
  });

  it('a proof sent with a token refused for its audience, its revocation or its expiry is not spent: the same proof passes with the token as it should be', async () => {
    for (const v of verifiers) {
      const token = await sign({ cnf: { jkt: holder.jkt } });
      const proof = await dpopProof(holder, 'GET', URL_, { accessToken: token });
      expect({ v, d: await decision(verifyWith(h, v, token, presented(proof, 'https://other.test'))) }).toEqual({ v, d: 'ERR_TOKEN_INVALID' });
      expect({ v, d: await decision(verifyWith(h, v, token, presented(proof))) }).toEqual({ v, d: 'accepted' });
    }
  });
});

describe('a confirmation that is not a DPoP key thumbprint (cnf null, a number, an mTLS x5t#S256)', () => {
  it('is refused by both verifiers as a token error (never a crash, never a bearer token), Bearer or DPoP', async () => {
    for (const cnf of [null, 7, 'jkt', { 'x5t#S256': 'bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2' }, { jkt: 12 }]) {
      const token = await sign({ cnf });
      const proof = await dpopProof(holder, 'GET', URL_, { accessToken: token });
      for (const v of verifiers) {
        expect({ cnf, v, bearer: await decision(verifyWith(h, v, token)) }).toEqual({ cnf, v, bearer: expect.stringMatching(/^ERR_TOKEN_/) });
        expect({ cnf, v, dpop: await decision(verifyWith(h, v, token, presented(proof))) }).toEqual({
          cnf,
          v,
          dpop: expect.stringMatching(/^ERR_(TOKEN|DPOP)_/),
        });
      }
    }
  });
});

describe('oneTime (the replay guard)', () => {
  it('the engine: a second use is refused; a use refused for its scheme or audience spends nothing', async () => {
    const bound = await sign({ cnf: { jkt: holder.jkt } });
    expect(await decision(h.baton.verify(bound, { audience: API, oneTime: true }))).toBe('ERR_TOKEN_SCHEME');
    expect(await decision(h.baton.verify(bound, { audience: 'https://other.test', oneTime: true }))).toBe('ERR_TOKEN_INVALID');
    const proof = { audience: API, oneTime: true, dpop: { proof: await dpopProof(holder, 'GET', URL_, { accessToken: bound }), method: 'GET', url: URL_ } };
    expect(await decision(h.baton.verify(bound, proof))).toBe('accepted');
    const again = { ...proof, dpop: { ...proof.dpop, proof: await dpopProof(holder, 'GET', URL_, { accessToken: bound }) } };
    expect(await decision(h.baton.verify(bound, again))).toBe('ERR_TOKEN_REPLAYED');
    const bearer = await sign();
    expect(await decision(h.baton.verify(bearer))).toBe('ERR_TOKEN_INVALID'); // the engine's own audience: not this token's
    expect(await decision(h.baton.verify(bearer, { audience: API, oneTime: true }))).toBe('accepted');
    expect(await decision(h.baton.verify(bearer, { audience: API, oneTime: true }))).toBe('ERR_TOKEN_REPLAYED');
    expect(h.baton.verifySync(bearer, { audience: API, oneTime: true })).toBeUndefined(); // never decided without the guard
  });

  it('remoteIssuer refuses oneTime (it has no replay guard), from the cache too, and spends no DPoP proof doing so', async () => {
    const token = await sign({ cnf: { jkt: holder.jkt } });
    const proof = await dpopProof(holder, 'GET', URL_, { accessToken: token });
    expect(await decision(h.rs.verify(token, { ...presented(proof), oneTime: true }))).toBe('ERR_INVALID_ARGUMENT');
    expect(await decision(h.rs.verify(token, presented(proof)))).toBe('accepted');
    expect(await decision(h.rs.verify(await sign(), { audience: API, oneTime: true }))).toBe('ERR_INVALID_ARGUMENT');
    expect(h.rs.verifySync?.(token, { audience: API, oneTime: true })).toBeUndefined();
  });
});

describe('a key revoked after its tokens were cached', () => {
  it('is refused by both verifiers, whose caches held it (the engine at once, remoteIssuer once the feed says so)', async () => {
    const token = await sign({ jti: randomUUID() });
    for (const v of verifiers) expect(await decision(verifyWith(h, v, token))).toBe('accepted');
    await h.baton.rotateKeys();
    expect(await h.baton.revokeKey('es')).toBe(true);
    await eventually(async () => (await decision(verifyWith(h, 'remote', token))) !== 'accepted');
    for (const v of verifiers) {
      expect({ v, d: await decision(verifyWith(h, v, token)) }).toEqual({ v, d: 'ERR_TOKEN_INVALID' });
    }
    expect(() => h.baton.verifySync(token, { audience: API })).toThrow();
    expect(h.rs.verifySync?.(token, { audience: API })).toBeUndefined();
  });
});
