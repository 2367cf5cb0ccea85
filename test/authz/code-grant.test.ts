/**
 * `grant_type=authorization_code` at `/oauth/token` (authz/code-grant.ts), called with Web
 * Requests on a memory store: each attack a test — a replayed code ends the session its first
 * presentation opened; a missing, plain or wrong verifier, another client, another redirect_uri,
 * an expired or changed code, a DPoP-bound code without its key — each refused with nothing
 * written, so that the rightful request still succeeds afterwards.
 */
import { randomBytes } from 'node:crypto';
import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import { createBaton, generateKey } from 'baton-auth';
import { createAuthHandler, staticClients } from 'baton-auth/http';
import { memoryStore } from 'baton-auth/stores/memory';
import { issueCode } from '../../packages/baton-auth/src/authz/codes.ts';
import type { CodeGrant } from '../../packages/baton-auth/src/authz/codes.ts';
import { s256 } from '../../packages/baton-auth/src/authz/pkce.ts';
import type { HandlerContext } from '../../packages/baton-auth/src/http/context.ts';
import { ManualClock } from '../support/clock.ts';
import { codeOf } from '../support/baton.ts';
import { dpopKey, dpopProof } from '../support/dpop.ts';
import type { DpopKey } from '../support/dpop.ts';

const ISSUER = 'https://auth.test';
const TOKEN = `${ISSUER}/oauth/token`;
const REDIRECT = 'https://app.test/cb';
const BACKEND_SECRET = 'backend-secret-of-at-least-32-characters';

interface TokenBody {
  access_token: string;
  refresh_token: string;
  token_type: string;
  session_id: string;
  id_token?: string;
  scope?: string;
  error?: string;
  error_description?: string;
}

function setup(signing: 'EdDSA' | 'HS256' = 'EdDSA') {
  const clock = new ManualClock();
  const store = memoryStore();
  /** Called before each session is written (a test sets it to interleave a request). */
  const hooks: { beforeCreate?: () => Promise<void> } = {};
  const create = store.createSession.bind(store);
  store.createSession = async (...args) => {
    await hooks.beforeCreate?.();
    return create(...args);
  };
  const baton = createBaton({ issuer: ISSUER, keys: [generateKey(signing, 'k1')], refreshTokenSecret: randomBytes(32), store, now: clock.now });
  const logs: string[] = [];
  const log = (o: object, msg?: string) => logs.push(JSON.stringify(o) + (msg ?? ''));
  const handler = createAuthHandler({
    baton,
    authenticate: async () => null,
    // First-party: these codes are issued here directly, with no consent page (third-party redemption: test/authz/consent.test.ts).
    clients: staticClients([
      { id: 'default' },
      { id: 'spa', firstParty: true },
      { id: 'other', firstParty: true },
      { id: 'backend', secret: BACKEND_SECRET, firstParty: true },
      { id: 'strict', dpop: 'required', firstParty: true },
    ]),
    logger: { info: log, warn: log, error: log },
  });
  const c = { baton, issuer: ISSUER } as HandlerContext;
  const verifier = randomBytes(32).toString('base64url');
  const grant = (o: Partial<CodeGrant> = {}): CodeGrant => ({
    clientId: 'spa',
    redirectUri: REDIRECT,
    codeChallenge: s256(verifier),
    userId: 'user-1',
    scope: ['openid', 'profile'],
    resource: [],
    nonce: 'nonce-1',
    authTime: Math.floor(clock.ms / 1000) - 5,
    ...o,
  });
  const code = (o: Partial<CodeGrant> = {}) => issueCode(c, grant(o));
  const post = (fields: Record<string, string>, headers: Record<string, string> = {}) =>
    handler(
      new Request(TOKEN, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
        body: new URLSearchParams(fields).toString(),
      }),
      { ip: '203.0.113.9' },
    );
  const redeem = async (theCode: string, extra: Record<string, string> = {}, headers: Record<string, string> = {}) => {
    const res = await post(
      { grant_type: 'authorization_code', code: theCode, redirect_uri: REDIRECT, code_verifier: verifier, client_id: 'spa', ...extra },
      headers,
    );
    return { res, body: (await res.json()) as TokenBody };
  };
  /** A redemption with a DPoP proof, following one use_dpop_nonce answer as a client does (RFC 9449 §8). */
  const redeemWithProof = async (key: DpopKey, theCode: string, extra: Record<string, string> = {}) => {
    const iat = Math.floor(clock.ms / 1000);
    let out = await redeem(theCode, extra, { dpop: await dpopProof(key, 'POST', TOKEN, { iat }) });
    const nonce = out.res.headers.get('dpop-nonce');
    if (out.body.error === 'use_dpop_nonce' && nonce !== null)
      out = await redeem(theCode, extra, { dpop: await dpopProof(key, 'POST', TOKEN, { nonce, iat }) });
    return out;
  };
  const sessions = async () => baton.listSessions('user-1');
  return { baton, hooks, clock, handler, c, verifier, code, redeem, redeemWithProof, post, sessions, logs };
}

describe('authorization_code at /oauth/token', () => {
  it('exchanges a code for a session of the code grant: tokens that verify, the scope, an ID token with nonce, sid and auth_time', async () => {
    const { baton, code, redeem, clock } = setup();
    const theCode = await code();
    const { res, body } = await redeem(theCode);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(body.token_type).toBe('Bearer');
    expect(body.scope).toBe('openid profile');
    const claims = await baton.verify(body.access_token);
    expect([claims.sub, claims.client_id, claims.sid]).toEqual(['user-1', 'spa', body.session_id]);
    const id = decodeJwt(body.id_token as string);
    expect(id).toMatchObject({ iss: ISSUER, sub: 'user-1', aud: 'spa', nonce: 'nonce-1', sid: body.session_id, auth_time: Math.floor(clock.ms / 1000) - 5 });
    expect((await baton.refresh(body.refresh_token, { clientId: 'spa' })).session_id).toBe(body.session_id);
  });

  it('without openid in the scope, no ID token', async () => {
    const { code, redeem } = setup();
    const { res, body } = await redeem(await code({ scope: ['profile'] }));
    expect(res.status).toBe(200);
    expect(body.id_token).toBeUndefined();
  });

  it('a code presented a second time is refused and ends the session the first opened: its tokens stop verifying (RFC 6749 §4.1.2)', async () => {
    const { baton, code, redeem, sessions } = setup();
    const theCode = await code();
    const first = await redeem(theCode);
    expect(first.res.status).toBe(200);
    await baton.verify(first.body.access_token);
    const second = await redeem(theCode);
    expect([second.res.status, second.body.error]).toEqual([400, 'invalid_grant']);
    expect(await codeOf(baton.verify(first.body.access_token))).toBe('ERR_SESSION_REVOKED');
    expect(await codeOf(baton.refresh(first.body.refresh_token, { clientId: 'spa' }))).toBe('ERR_SESSION_ENDED');
    expect(await sessions()).toEqual([]);
  });

  it('a replay racing the first presentation: whichever wins, no session of the code stays alive', async () => {
    for (let i = 0; i < 20; i++) {
      const { baton, code, redeem, sessions } = setup();
      const theCode = await code();
      const answers = await Promise.all([redeem(theCode), redeem(theCode)]);
      expect(answers.filter((a) => a.res.status === 200).length).toBeLessThanOrEqual(1);
      for (const a of answers) if (a.res.status === 200) expect(await codeOf(baton.verify(a.body.access_token))).toBe('ERR_SESSION_REVOKED');
      expect(await sessions()).toEqual([]);
    }
  });

  it('a replay that arrives while the first presentation is opening its session: the first presentation ends its own session', async () => {
    const { baton, hooks, code, redeem, sessions } = setup();
    const theCode = await code();
    let replay: Awaited<ReturnType<typeof redeem>> | undefined;
    // The replay is answered between the code being spent and the session being written.
    hooks.beforeCreate = async () => {
      if (replay === undefined) replay = await redeem(theCode);
    };
    const first = await redeem(theCode);
    expect(replay?.body.error).toBe('invalid_grant');
    expect([first.res.status, first.body.error]).toEqual([400, 'invalid_grant']);
    expect(await sessions()).toEqual([]);
    expect(await baton.listSessions('user-1')).toEqual([]);
  });

  it('a missing, plain or wrong code_verifier is refused, and nothing is spent: the right one still redeems the code (RFC 7636 §4.6)', async () => {
    const { code, redeem, verifier, sessions } = setup();
    const theCode = await code();
    const wrongs: Record<string, string>[] = [
      { code_verifier: '' },
      { code_verifier: s256(verifier) }, // the challenge itself, as `plain` would send it
      { code_verifier: randomBytes(32).toString('base64url') },
      { code_verifier: `${verifier.slice(0, -1)}${verifier.endsWith('A') ? 'B' : 'A'}` },
    ];
    for (const extra of wrongs) {
      const { res, body } = await redeem(theCode, extra);
      expect([res.status, body.error]).toEqual([400, 'invalid_grant']);
    }
    const withoutVerifier = await redeem(theCode, { code_verifier: '' });
    expect(withoutVerifier.body.error).toBe('invalid_grant');
    expect(await sessions()).toEqual([]);
    expect((await redeem(theCode)).res.status).toBe(200);
  });

  it('another client, or another redirect_uri (even one character), is refused, and the code still works for its own', async () => {
    const { code, redeem, post, verifier, sessions } = setup();
    const theCode = await code();
    expect((await redeem(theCode, { client_id: 'other' })).body.error).toBe('invalid_grant');
    const basic = `Basic ${Buffer.from(`backend:${BACKEND_SECRET}`).toString('base64')}`;
    const asBackend = await post(
      { grant_type: 'authorization_code', code: theCode, redirect_uri: REDIRECT, code_verifier: verifier },
      { authorization: basic },
    );
    expect((await asBackend.json()).error).toBe('invalid_grant');
    for (const uri of [`${REDIRECT}/`, 'https://app.test/CB', 'https://app.test/cb?x=1', 'https://app.test/%63b', 'https://evil.test/cb']) {
      expect((await redeem(theCode, { redirect_uri: uri })).body.error).toBe('invalid_grant');
    }
    const missing = await redeem(theCode, { redirect_uri: '' });
    expect([missing.res.status, missing.body.error]).toEqual([400, 'invalid_request']);
    expect(await sessions()).toEqual([]);
    expect((await redeem(theCode)).res.status).toBe(200);
  });

  it('a confidential client authenticates as at the token endpoint today', async () => {
    const { code, post, verifier } = setup();
    const theCode = await code({ clientId: 'backend' });
    const fields = { grant_type: 'authorization_code', code: theCode, redirect_uri: REDIRECT, code_verifier: verifier };
    expect((await post({ ...fields, client_id: 'backend' })).status).toBe(401);
    const wrong = `Basic ${Buffer.from('backend:wrong-secret-of-at-least-32-characters!').toString('base64')}`;
    expect((await post(fields, { authorization: wrong })).status).toBe(401);
    const basic = `Basic ${Buffer.from(`backend:${BACKEND_SECRET}`).toString('base64')}`;
    expect((await post(fields, { authorization: basic })).status).toBe(200);
  });

  it('an expired code (60 s on the engine clock), a changed one, or one of another purpose is refused', async () => {
    const { code, redeem, clock, c, sessions } = setup();
    const theCode = await code();
    clock.advance(60_000);
    expect((await redeem(theCode)).body.error).toBe('invalid_grant');
    const fresh = await code();
    const raw = Buffer.from(fresh, 'base64url');
    raw[raw.length - 20] = (raw[raw.length - 20] as number) ^ 1;
    expect((await redeem(raw.toString('base64url'))).body.error).toBe('invalid_grant');
    const { sealerOf } = await import('../../packages/baton-auth/src/authz/codes.ts');
    expect((await redeem(await sealerOf(c.baton).seal('txn', {}, 10_000))).body.error).toBe('invalid_grant');
    expect((await redeem('not-a-code')).body.error).toBe('invalid_grant');
    expect((await redeem('', {})).body.error).toBe('invalid_request');
    expect(await sessions()).toEqual([]);
  });

  it('a DPoP-bound code (dpop_jkt, RFC 9449 §10) is refused without a proof or with another key, nothing spent; with its key the session is bound', async () => {
    const { baton, clock, code, redeem, redeemWithProof, sessions } = setup();
    const key = await dpopKey();
    const other = await dpopKey();
    const theCode = await code({ dpopJkt: key.jkt });
    expect((await redeem(theCode)).body.error).toBe('invalid_grant');
    expect((await redeemWithProof(other, theCode)).body.error).toBe('invalid_grant');
    // The key is compared before the signature is checked: a proof by another key with a broken signature is still invalid_grant.
    const forged = await dpopProof(other, 'POST', TOKEN, { nonce: baton.dpopNonce(), iat: Math.floor(clock.ms / 1000) });
    expect((await redeem(theCode, {}, { dpop: `${forged.slice(0, -8)}AAAAAAAA` })).body.error).toBe('invalid_grant');
    const broken = await dpopProof(key, 'POST', TOKEN, { nonce: baton.dpopNonce(), iat: Math.floor(clock.ms / 1000) });
    expect((await redeem(theCode, {}, { dpop: `${broken.slice(0, -8)}AAAAAAAA` })).body.error).toBe('invalid_dpop_proof');
    expect(await sessions()).toEqual([]);
    const { res, body } = await redeemWithProof(key, theCode);
    expect(res.status).toBe(200);
    expect(body.token_type).toBe('DPoP');
    expect((decodeJwt(body.access_token).cnf as { jkt: string }).jkt).toBe(key.jkt);
    expect(body.refresh_token).toMatch(/^rtd_/);
  });

  it('a client that requires DPoP needs a proof even for an unbound code; an unbound code redeemed with a proof binds the session', async () => {
    const { code, redeem, redeemWithProof } = setup();
    const key = await dpopKey();
    const strictCode = await code({ clientId: 'strict' });
    expect((await redeem(strictCode, { client_id: 'strict' })).body.error).toBe('invalid_dpop_proof');
    expect((await redeemWithProof(key, strictCode, { client_id: 'strict' })).body.token_type).toBe('DPoP');
    expect((await redeemWithProof(key, await code())).body.token_type).toBe('DPoP');
  });

  it('openid with an HS256 ring: refused before the code is spent (no ID token can be signed)', async () => {
    const { code, redeem, sessions } = setup('HS256');
    const theCode = await code();
    expect((await redeem(theCode)).res.status).toBe(500);
    expect(await sessions()).toEqual([]);
    expect((await redeem(await code({ scope: ['profile'] }))).res.status).toBe(200);
  });

  it('a resource named at the token request must be one the code granted (RFC 8707 §2.2)', async () => {
    const { code, redeem } = setup();
    const theCode = await code({ resource: [] });
    const { res, body } = await redeem(theCode, { resource: 'https://api.test' });
    expect([res.status, body.error]).toEqual([400, 'invalid_target']);
  });

  it('the log says why a code was refused, never the code or the verifier', async () => {
    const { code, redeem, logs, verifier } = setup();
    const theCode = await code();
    await redeem(theCode, { redirect_uri: 'https://evil.test/cb' });
    await redeem(theCode);
    await redeem(theCode);
    const text = logs.join('\n');
    expect(text).toContain('another redirect_uri');
    expect(text).toContain('presented again');
    expect(text).not.toContain(theCode);
    expect(text).not.toContain(theCode.slice(0, 24));
    expect(text).not.toContain(verifier);
  });
});
