/**
 * HTTP Basic client credentials are form-urlencoded before the Base64 (RFC 6749 §2.3.1): for any
 * client id and secret — `+`, `%`, `:`, spaces, non-ASCII — the encoded pair authenticates, and
 * the same pair sent unencoded authenticates only when decoding changes nothing in it.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createAuthHandler, staticClients } from 'baton-auth/http';
import { makeBaton } from '../support/baton.ts';

const form = (s: string) => new URLSearchParams({ s }).toString().slice(2);
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

describe('client_secret_basic', () => {
  it('for any id and secret, the form-encoded pair authenticates; the raw one only when decoding leaves it as it is', async () => {
    const chars = fc.constantFrom(...'aZ09+%: é~-._/=&'.split(''));
    const text = (min: number) => fc.array(chars, { minLength: min, maxLength: 40 }).map((a) => a.join(''));
    await fc.assert(
      fc.asyncProperty(text(1), text(32), async (rawId, rawSecret) => {
        const id = `c${rawId}`.trim();
        const secret = `s${rawSecret}`.trim().padEnd(32, 'x');
        const { baton } = makeBaton();
        const handler = createAuthHandler({ baton, authenticate: async () => null, clients: staticClients([{ id, secret, introspect: true }]) });
        const introspect = (authorization: string) =>
          handler(
            new Request('https://auth.test/oauth/introspect', {
              method: 'POST',
              headers: { 'content-type': 'application/x-www-form-urlencoded', authorization },
              body: 'token=x',
            }),
            { ip: '203.0.113.9' },
          );
        expect((await introspect(basic(form(id), form(secret)))).status).toBe(200);
        const raw = (await introspect(basic(id, secret))).status;
        // Unencoded, a pair reads as itself when it has no `%` or `+` to decode and no `:` in the id to split at.
        expect(raw).toBe(/[%+]/.test(id + secret) || id.includes(':') ? 401 : 200);
      }),
      { numRuns: 60 },
    );
  });
});
