/**
 * A handler for the OpenID Connect tests (test/authz/): a Baton on a memory store with one signing
 * key of `alg`, users alice and bob, clients with post-logout redirect URIs, and shortcuts to call it.
 */
import { randomBytes } from 'node:crypto';
import { createBaton, generateKey } from 'baton-auth';
import type { Baton, SigningAlg } from 'baton-auth';
import { createAuthHandler, staticClients } from 'baton-auth/http';
import type { AuthHandlerOptions } from 'baton-auth/http';
import { memoryStore } from 'baton-auth/stores/memory';
import type { HandlerContext } from '../../packages/baton-auth/src/http/context.ts';

export const ISSUER = 'https://auth.test';

export function oidcSetup(alg: SigningAlg = 'EdDSA', overrides: Partial<AuthHandlerOptions> & { issuer?: string } = {}) {
  const issuer = overrides.issuer ?? ISSUER;
  const baton: Baton = createBaton({ issuer, keys: [generateKey(alg, `${alg}-1`)], refreshTokenSecret: randomBytes(32), store: memoryStore() });
  const users: Record<string, string> = { alice: 'correct horse', bob: 'battery staple' };
  const handler = createAuthHandler({
    baton,
    authenticate: async (u, p) => (users[u] === p ? { userId: `id-${u}`, scope: 'openid profile email' } : null),
    clients: staticClients([{ id: 'default' }, { id: 'web', scopes: ['openid', 'profile', 'email'] }]),
    scopes: ['openid', 'profile', 'email'],
    ...overrides,
  });
  const call = (path: string, init: RequestInit = {}) => handler(new Request(`${issuer}${path}`, init), { ip: '203.0.113.7' });
  /** What `idToken` reads of the handler's context: the engine and the issuer. */
  const context = { baton, issuer } as HandlerContext;
  return { baton, handler, call, context, issuer };
}
