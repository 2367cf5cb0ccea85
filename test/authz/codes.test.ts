/**
 * Authorization codes (authz/codes.ts): sealed grants that open only as codes, for at most 60 s,
 * each with its own one-time id and the id (in the session-id format) of the session it opens.
 */
import { describe, expect, it } from 'vitest';
import { issueCode, openCode, sealerOf } from '../../packages/baton-auth/src/authz/codes.ts';
import type { CodeGrant } from '../../packages/baton-auth/src/authz/codes.ts';
import { userTag } from '../../packages/baton-auth/src/core/session-id.ts';
import type { HandlerContext } from '../../packages/baton-auth/src/http/context.ts';
import { makeBaton } from '../support/baton.ts';

const GRANT: CodeGrant = {
  clientId: 'web',
  redirectUri: 'https://app.test/cb',
  codeChallenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
  userId: 'user-1',
  scope: ['openid', 'profile'],
  resource: [],
  nonce: 'n-1',
  authTime: 1_700_000_000,
};

describe('issueCode', () => {
  it('seals the grant as a code that opens as one, with a fresh jti and a session id of the user', async () => {
    const { baton } = makeBaton();
    const c = { baton } as HandlerContext;
    const code = await issueCode(c, GRANT);
    expect(code).toMatch(/^[A-Za-z0-9_-]+$/);
    const opened = await openCode(c, code);
    expect(opened?.grant).toEqual(GRANT);
    expect(opened?.sid).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(opened?.sid.slice(0, 4)).toBe(userTag('user-1'));
    const other = await openCode(c, await issueCode(c, GRANT));
    expect(other?.jti).not.toBe(opened?.jti);
    expect(other?.sid).not.toBe(opened?.sid);
    // A value sealed for another purpose is no code, though under the same keys.
    expect(await openCode(c, await sealerOf(baton).seal('txn', { grant: GRANT, jti: 'x', sid: 'y', exp: baton.now() + 1000 }, 1000))).toBeUndefined();
  });

  it('lives at most 60 s on the engine clock; a longer lifetime is refused', async () => {
    const { baton, clock } = makeBaton();
    const c = { baton } as HandlerContext;
    const code = await issueCode(c, GRANT);
    clock.advance(59_999);
    expect(await openCode(c, code)).toBeDefined();
    clock.advance(1);
    expect(await openCode(c, code)).toBeUndefined();
    const short = await issueCode(c, GRANT, 5_000);
    clock.advance(5_000);
    expect(await openCode(c, short)).toBeUndefined();
    await expect(issueCode(c, GRANT, 60_001)).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
  });
});

describe('LoginOptions.sessionId (internal: the code grant opens its session under the id the code carries)', () => {
  it('must be a session id of the user: the format and the user tag', async () => {
    const { baton } = makeBaton();
    const opened = await openCode({ baton } as HandlerContext, await issueCode({ baton } as HandlerContext, GRANT));
    const sid = opened?.sid as string;
    expect((await baton.login('user-1', { sessionId: sid })).session_id).toBe(sid);
    for (const bad of ['short', `${sid}x`, `${sid.slice(0, -1)}!`, `${sid.slice(0, -1)}B`]) {
      await expect(baton.login('user-1', { sessionId: bad })).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    }
    // Another user's session id space: refused (the tag is of user-1).
    await expect(baton.login('user-2', { sessionId: sid })).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
  });
});
