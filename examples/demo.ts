/**
 * What the examples share: an engine on the memory store and a handler with one demo user.
 * A real application brings its own store, keys from configuration and its own user check.
 */
import { randomBytes } from 'node:crypto';
import { createBaton, generateKey } from 'baton-auth';
import type { Baton, BatonOptions } from 'baton-auth';
import { createAuthHandler } from 'baton-auth/http';
import type { AuthHandler } from 'baton-auth/http';
import { memoryStore } from 'baton-auth/stores/memory';

export const DEMO_USER = { username: 'demo', password: 'demo-password' };

/**
 * The API the examples protect, as clients name it (`resource`, RFC 8707) and as its tokens carry
 * it in `aud`: a token the token service issued for anything else is refused there.
 */
export const DEMO_API = 'https://api.demo.test';

export function demo(issuer: string, overrides: Partial<BatonOptions> = {}): { baton: Baton; handler: AuthHandler } {
  const baton = createBaton({
    issuer,
    keys: [generateKey('HS256')],
    refreshTokenSecret: randomBytes(32),
    store: memoryStore(),
    ...overrides,
  });
  const handler = createAuthHandler({
    baton,
    resources: [DEMO_API],
    authenticate: async (username, password) =>
      username === DEMO_USER.username && password === DEMO_USER.password ? { userId: 'user-demo', scope: 'profile transfer' } : null,
  });
  return { baton, handler };
}

/** Checks a username and password for the cookie (backend-for-frontend) login of the examples. */
export function checkDemo(username: unknown, password: unknown): boolean {
  return username === DEMO_USER.username && password === DEMO_USER.password;
}
