/**
 * Red team of #26 (`recentClientAuths`): what the fast path of a recent success must still do as
 * the full path does — refuse a secret from a client that is no longer confidential, and clear the
 * pair's consecutive failures as any success does (login-protection.ts: "a success clears them").
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createBaton, generateKey } from 'baton-auth';
import { createAuthHandler, createLoginProtection, staticClients } from 'baton-auth/http';
import type { ClientRecord } from 'baton-auth/http';
import { memoryStore } from 'baton-auth/stores/memory';

const ISSUER = 'https://auth.test';
const SECRET = 'gateway-secret-of-at-least-32-characters';
const A = '203.0.113.9';
const basic = (secret: string) => `Basic ${Buffer.from(`gateway:${encodeURIComponent(secret)}`).toString('base64')}`;

function setup() {
  const store = memoryStore();
  const baton = createBaton({ issuer: ISSUER, keys: [generateKey('HS256', 'k')], refreshTokenSecret: randomBytes(32), store });
  const base = staticClients([{ id: 'default' }, { id: 'gateway', secret: SECRET, introspect: true }]);
  // An operator's registry: the gateway's record may change under the handler (here: made public, its old hash left in the row).
  let change: (r: ClientRecord) => ClientRecord = (r) => r;
  const handler = createAuthHandler({
    baton,
    authenticate: async () => null,
    clients: {
      get: async (id: string) => {
        const r = await base.get(id);
        return r === null ? null : change(r);
      },
    },
    clientProtection: createLoginProtection({ store, keyPrefix: 'client', failures: { max: 3, blockMs: 3_600_000 } }),
  });
  const call = async (path: string, secret: string, ip = A) =>
    (
      await handler(
        new Request(`${ISSUER}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(secret) },
          body: new URLSearchParams({ token: 'not-a-token' }),
        }),
        { ip },
      )
    ).status;
  return { call, makePublic: () => (change = (r) => ({ ...r, type: 'public' })) };
}

describe('red team: the recent-success fast path', () => {
  it('a client made public (its old hash left in the record) is refused a secret at once, as on the full path', async () => {
    const { call, makePublic } = setup();
    expect(await call('/oauth/revoke', SECRET)).toBe(200);
    makePublic();
    // The full path: "secret from a public client", 401. The fast path compared the hash only.
    expect(await call('/oauth/revoke', SECRET)).toBe(401);
  });

  it('a right secret between wrong ones clears the consecutive failures, cached or not (no block the full path never sets)', async () => {
    const { call } = setup();
    // A gateway with one worker still on an old secret, one on the right one, from one address.
    for (let i = 0; i < 6; i++) {
      expect(await call('/oauth/introspect', SECRET)).toBe(200);
      expect(await call('/oauth/introspect', `old secret ${i}`)).toBe(401);
    }
    expect(await call('/oauth/introspect', SECRET)).toBe(200);
  });
});
