/**
 * Red team of the verified-token cache (#26) through `remoteIssuer`: jose on Node 24 decodes
 * base64url with `atob` (no `Uint8Array.fromBase64`), which ignores the unused bits of the last
 * character. A token of the issuer with its signature's last character changed among the 16 that
 * decode alike (ES256, EdDSA: 4 unused bits) was accepted by `remoteIssuer` — each a new token to
 * the cache, keyed by those very characters — where the engine refuses it (strict base64url: one
 * byte string, one encoding). Refused now by both.
 */
import { describe, expect, it } from 'vitest';
import { decision, setup, sign, verifiers, verifyWith } from './pipeline-harness.ts';

const h = setup();
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

describe('a signature re-encoded with non-zero unused bits', () => {
  it('is refused by both verifiers, the canonical token accepted', async () => {
    const token = await sign();
    const last = ALPHABET.indexOf(token[token.length - 1] as string);
    const variants = [1, 2, 7, 15].map((d) => token.slice(0, -1) + ALPHABET[(last & ~15) | ((last + d) & 15)]);
    for (const v of verifiers) {
      expect(await decision(verifyWith(h, v, token))).toBe('accepted');
      for (const variant of variants)
        expect([v, variant.slice(-2), await decision(verifyWith(h, v, variant))]).toEqual([v, variant.slice(-2), 'ERR_TOKEN_INVALID']);
    }
  });

  it('a padded or whitespace-split segment is refused by both', async () => {
    const token = await sign();
    const [head, payload, sig] = token.split('.') as [string, string, string];
    for (const bad of [`${head}.${payload}.${sig}==`, `${head}.${payload}.${sig.slice(0, 10)}\t${sig.slice(10)}`, `${head} .${payload}.${sig}`])
      for (const v of verifiers) expect([v, await decision(verifyWith(h, v, bad))]).toEqual([v, 'ERR_TOKEN_INVALID']);
  });
});
