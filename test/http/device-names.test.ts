/**
 * Device names (http/device.ts) of sessions an application recorded itself: `baton.login`'s
 * `device.userAgent` is the application's to fill, and the documented example passes the raw
 * header (up to 16 KB in Node). The parser must read what the service's own login records (256
 * characters, routes/login.ts), so that listing sessions costs the same however they were opened
 * and the cache of parsed names holds small keys. Red team rt-page, redteam/page/ua-cost.ts
 * (bowser: ~5 ms for a 16 KB hostile user agent, ~0.1 ms at 256 characters).
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createBaton, generateKey } from 'baton-auth';
import { createAuthHandler } from 'baton-auth/http';
import { memoryStore } from 'baton-auth/stores/memory';

const ISSUER = 'https://auth.test';

describe('device names of sessions recorded by the application', () => {
  it('are parsed from the first 256 characters of the user agent, as the service records it', async () => {
    const baton = createBaton({ issuer: ISSUER, keys: [generateKey('ES256', 'es')], refreshTokenSecret: randomBytes(32), store: memoryStore() });
    const handler = createAuthHandler({ baton, authenticate: async () => null });
    const long = `Mozilla/5.0 (X11; Linux x86_64) ${'('.repeat(16_000)} Firefox/133.0`;
    const pair = await baton.login('user-1', { clientId: 'default', device: { userAgent: long } });
    const res = await handler(new Request(`${ISSUER}/auth/sessions`, { headers: { authorization: `Bearer ${pair.access_token}` } }), {});
    const { sessions } = (await res.json()) as { sessions: { device: { userAgent: string; name?: string; os?: string } }[] };
    // The recorded field is the application's, answered as recorded; the name comes from its first 256 characters.
    expect(sessions[0]?.device.userAgent).toBe(long);
    expect(sessions[0]?.device.os).toBe('Linux');
    expect(sessions[0]?.device.name).toBe('Mozilla 5 on Linux');
  });
});
