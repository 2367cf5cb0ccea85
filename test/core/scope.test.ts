/**
 * The server decides the scope (RFC 6749 §3.3): a refresh may narrow it for one access token
 * (§6), never widen it; a revocation names its client (RFC 7009 §2.1).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { grantScope, parseScope } from '../../packages/baton-auth/src/core/scope.ts';
import { codeOf, makeBaton } from '../support/baton.ts';

describe('grantScope', () => {
  it('grants what was asked when every bound allows it, and refuses naming nothing more', () => {
    expect(grantScope('read', ['read', 'write'], ['read'])).toBe('read');
    expect(grantScope(undefined, ['read', 'write', 'admin'], ['read', 'write'])).toBe('read write');
    expect(grantScope(undefined)).toBe('');
    expect(grantScope('read', undefined)).toBe('read');
    expect(() => grantScope('admin', ['read'], ['admin'])).toThrow(expect.objectContaining({ code: 'ERR_INVALID_SCOPE' }));
    expect(() => grantScope('read "x"', ['read'])).toThrow(expect.objectContaining({ code: 'ERR_INVALID_SCOPE' }));
  });

  it('law: what is granted is a subset of the request and of every bound', () => {
    const scope = fc.constantFrom<string>('a', 'b', 'c', 'd', 'e');
    fc.assert(
      fc.property(fc.array(scope), fc.array(scope), fc.array(scope), (asked, user, client) => {
        let granted: string[];
        try {
          granted = parseScope(grantScope(asked.join(' '), user, client));
        } catch (err) {
          expect((err as { code?: string }).code).toBe('ERR_INVALID_SCOPE');
          expect(asked.some((s) => !user.includes(s) || !client.includes(s))).toBe(true);
          return;
        }
        for (const s of granted) expect(asked.includes(s) && user.includes(s) && client.includes(s)).toBe(true);
      }),
    );
  });
});

describe('refresh with a scope (RFC 6749 §6)', () => {
  it('narrows one access token while the session keeps its grant; wider is refused and changes nothing', async () => {
    const { baton } = makeBaton();
    const pair = await baton.login('u', { scope: 'read write' });
    expect(await codeOf(baton.refresh(pair.refresh_token, { scope: 'read admin' }))).toBe('ERR_INVALID_SCOPE');
    const narrow = await baton.refresh(pair.refresh_token, { scope: 'read' });
    expect(narrow.scope).toBe('read');
    expect((await baton.verify(narrow.access_token)).scope).toBe('read');
    const full = await baton.refresh(narrow.refresh_token);
    expect(full.scope).toBe('read write');
  });

  it('a token without scope has none in its response and claims (no "scope": "")', async () => {
    const { baton } = makeBaton();
    const pair = await baton.login('u');
    expect(pair).not.toHaveProperty('scope');
    expect(await baton.verify(pair.access_token)).not.toHaveProperty('scope');
    expect(await codeOf(baton.login('u', { scope: 'bad\u0001scope' }))).toBe('ERR_INVALID_SCOPE');
  });
});

describe('revocation by another client (RFC 7009 §2.1)', () => {
  it('is refused and the tokens stay valid', async () => {
    const { baton } = makeBaton();
    const pair = await baton.login('u', { clientId: 'web' });
    for (const token of [pair.refresh_token, pair.access_token]) {
      expect(await codeOf(baton.revoke(token, { clientId: 'other' }))).toBe('ERR_INVALID_ARGUMENT');
    }
    await baton.verify(pair.access_token);
    await baton.revoke(pair.refresh_token, { clientId: 'web' });
    expect(await codeOf(baton.verify(pair.access_token))).toBe('ERR_SESSION_REVOKED');
  });
});
