/**
 * Red team of the verification pipeline's other formats (`core/pipeline.ts`'s `OtherFormats`): the
 * engine's opaque tokens, looked up in its store, and the same tokens at `remoteIssuer` by
 * introspection (RFC 7662, its answers cached). The audience, the revocations and the DPoP binding
 * are the pipeline's for every format: a test fails if one is skipped for an opaque token.
 */
import { describe, expect, it } from 'vitest';
import { dpopKey, dpopProof } from '../support/dpop.ts';
import { decision, setup, verifiers, verifyWith } from './pipeline-harness.ts';

const h = setup({ tokenFormat: 'opaque' });
const SELF = 'https://auth.test'; // the engine's own audience: its tokens' `aud` by default

/** Until `ok()` or two seconds: the feed reaches remoteIssuer within milliseconds. */
async function eventually(ok: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200 && !(await ok()); i++) await new Promise((r) => setTimeout(r, 10));
}

describe('opaque tokens', () => {
  it('are checked for their audience by both verifiers, and refused by both once their session is revoked (the introspection cache too)', async () => {
    const pair = await h.baton.login('ada');
    expect(pair.access_token).toMatch(/^at_/);
    for (const v of verifiers) {
      expect({ v, d: await decision(verifyWith(h, v, pair.access_token, { audience: SELF })) }).toEqual({ v, d: 'accepted' });
      expect({ v, d: await decision(verifyWith(h, v, pair.access_token, { audience: 'https://api.test' })) }).toEqual({ v, d: 'ERR_TOKEN_INVALID' });
    }
    await h.baton.revokeSession(pair.session_id);
    await eventually(async () => (await decision(verifyWith(h, 'remote', pair.access_token, { audience: SELF }))) !== 'accepted');
    for (const v of verifiers)
      expect({ v, d: await decision(verifyWith(h, v, pair.access_token, { audience: SELF })) }).toEqual({
        v,
        d: expect.stringMatching(/^ERR_(SESSION_REVOKED|TOKEN_INVALID)$/),
      });
  });

  it('a token revoked by itself (not its session) is refused by both, past the introspection cache', async () => {
    const pair = await h.baton.login('bob');
    for (const v of verifiers) expect(await decision(verifyWith(h, v, pair.access_token, { audience: SELF }))).toBe('accepted');
    await h.baton.revoke(pair.access_token);
    await eventually(async () => (await decision(verifyWith(h, 'remote', pair.access_token, { audience: SELF }))) !== 'accepted');
    for (const v of verifiers) expect({ v, d: await decision(verifyWith(h, v, pair.access_token, { audience: SELF })) }).not.toEqual({ v, d: 'accepted' });
  });

  it('a DPoP-bound opaque token is refused as Bearer by both, and accepted with a proof by its key only', async () => {
    const holder = await dpopKey();
    const thief = await dpopKey();
    const pair = await h.baton.login('cy', { jkt: holder.jkt });
    const url = 'https://auth.test/userinfo';
    for (const v of verifiers) {
      expect({ v, d: await decision(verifyWith(h, v, pair.access_token, { audience: SELF })) }).toEqual({ v, d: 'ERR_TOKEN_SCHEME' });
      const by = async (k: typeof holder) => ({
        audience: SELF,
        dpop: { proof: await dpopProof(k, 'GET', url, { accessToken: pair.access_token }), method: 'GET', url },
      });
      expect({ v, d: await decision(verifyWith(h, v, pair.access_token, await by(thief))) }).toEqual({ v, d: 'ERR_DPOP_INVALID' });
      expect({ v, d: await decision(verifyWith(h, v, pair.access_token, await by(holder))) }).toEqual({ v, d: 'accepted' });
    }
  });
});
