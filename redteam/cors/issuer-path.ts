/** Attempt: an issuer with a path (RFC 8414 §3.1): do the public/cookie route decisions follow the table entry, not the raw path? */
import { randomBytes } from 'node:crypto';
import { createBaton, generateKey } from 'baton-auth';
import { createAuthHandler } from 'baton-auth/http';
import { memoryStore } from 'baton-auth/stores/memory';
const issuer = 'https://auth.example.com/baton';
const baton = createBaton({ issuer, keys: [generateKey('EdDSA', 'ed')], refreshTokenSecret: randomBytes(32), store: memoryStore() });
const handler = createAuthHandler({ baton, authenticate: async () => null, allowedOrigins: ['https://app.example.com'] });
for (const [path, origin] of [
  ['/baton/oauth/token', 'https://app.example.com'],
  ['/oauth/token', 'https://app.example.com'],
  ['/.well-known/oauth-authorization-server/baton', 'https://evil.com'],
  ['/baton/.well-known/jwks.json', 'https://evil.com'],
  ['/.well-known/jwks.json', 'https://evil.com'],
  ['/baton/.well-known/oauth-authorization-server', 'https://evil.com'],
  ['/.well-known/../baton/auth/me', 'https://evil.com'],
  ['/baton/.well-known/%2e%2e/auth/me', 'https://evil.com'],
  ['/baton/auth/sessions/..%2F..%2F.well-known%2Fjwks.json', 'https://evil.com'],
]) {
  const r = await handler(new Request(`https://auth.example.com${path}`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST' } }));
  console.info(path.padEnd(60), origin.padEnd(26), r.status, r.headers.get('access-control-allow-origin'), r.headers.get('access-control-allow-credentials'));
}
