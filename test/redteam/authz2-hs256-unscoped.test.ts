/**
 * Red team (authz2): `openid` on an HS256 ring is `invalid_scope` at the authorization request
 * (flow.ts `grantedScope`). A request that names no scope is granted "everything allowed", and
 * `openid` is always among the user's — so on an HS256 ring every request without `scope` (the
 * MCP SDK's when the server lists no scopes, the client SDK's default) was refused for a scope it
 * never asked for, with "ask without openid" as the advice. Without a scope asked, openid is left out.
 */
import { describe, expect, it } from 'vitest';
import { generateKey } from 'baton-auth';
import { CLIENTS, redirectedTo, setup } from '../support/authz.ts';

describe('an HS256 ring and a request that names no scope', () => {
  it('gets a code, without openid; asking for openid is still invalid_scope', async () => {
    const s = setup({}, CLIENTS, { keys: [generateKey('HS256', 'hs-1')] });
    const b = s.browser();
    const q = redirectedTo(await s.signIn(b, await b.get(s.authorizePath({ scope: undefined }))));
    console.info(`[authz2-hs256-unscoped] answer: ${q.get('error') ?? 'code'} ${q.get('error_description') ?? ''}`);
    expect(q.get('error')).toBeNull();
    const code = await s.codeOf(q);
    expect(code?.grant.scope).not.toContain('openid');
    expect(code?.grant.scope).toEqual(expect.arrayContaining(['profile', 'orders:read']));
    expect(redirectedTo(await b.get(s.authorizePath({ scope: 'openid' }))).get('error')).toBe('invalid_scope');
  });

  it('on an EdDSA ring, the same request is granted openid as before', async () => {
    const s = setup();
    const b = s.browser();
    const q = redirectedTo(await s.signIn(b, await b.get(s.authorizePath({ scope: undefined }))));
    expect((await s.codeOf(q))?.grant.scope).toContain('openid');
  });
});
