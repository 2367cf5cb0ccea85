/**
 * One verification pipeline, two pairs of sources (`core/pipeline.ts`): the engine's (its key ring
 * on `node:crypto`, the store's revocations) and `remoteIssuer`'s (the same issuer's JWKS through
 * jose, its revocation feed) decide every token alike — the same refusal, for the same reason, in
 * the same order — and as a model of the pipeline's order says: the header (typ, kid), the time,
 * the audience, then the session's and the token's revocations. In process: the remote issuer
 * reaches the issuer's handler through its `fetch` option, the feed included.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { importJWK, SignJWT } from 'jose';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createBaton, generateKey } from 'baton-auth';
import type { Baton } from 'baton-auth';
import { createAuthHandler, staticClients } from 'baton-auth/http';
import { remoteIssuer } from 'baton-auth/remote';
import { memoryStore } from 'baton-auth/stores/memory';

const ISSUER = 'https://auth.test';
const API = 'https://api.test';
const SECRET = 'resource-server-secret-of-32-characters';
const key = generateKey('ES256', 'es');
const stranger = generateKey('ES256', 'es-unknown');

let baton: Baton;
let rs: ReturnType<typeof remoteIssuer>;
let revokedSid = '';
let liveSid = '';
let revokedJti = '';

/** A token as the table asks for it: each field one way a token can be wrong. */
interface Mutation {
  typ: 'at+jwt' | 'application/at+jwt' | 'JWT';
  kid: 'known' | 'unknown';
  expired: boolean;
  aud: 'this' | 'both' | 'other';
  session: 'live' | 'revoked' | 'none';
  jti: 'fresh' | 'revoked';
}

const mutations: fc.Arbitrary<Mutation> = fc.record({
  typ: fc.constantFrom('at+jwt', 'application/at+jwt', 'JWT'),
  kid: fc.constantFrom('known', 'unknown'),
  expired: fc.boolean(),
  aud: fc.constantFrom('this', 'both', 'other'),
  session: fc.constantFrom('live', 'revoked', 'none'),
  jti: fc.constantFrom('fresh', 'revoked'),
});

async function sign(m: Mutation): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const signer = m.kid === 'known' ? key : stranger;
  const claims = {
    iss: ISSUER,
    aud: m.aud === 'this' ? API : m.aud === 'both' ? ['https://other.test', API] : 'https://other.test',
    iat: m.expired ? now - 600 : now - 10,
    exp: m.expired ? now - 300 : now + 300,
    jti: m.jti === 'revoked' ? revokedJti : randomUUID(),
    client_id: 'app',
    ...(m.session === 'none' ? { sub: 'app' } : { sub: 'ada', sid: m.session === 'live' ? liveSid : revokedSid }),
  };
  return new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: m.typ, kid: signer.kid }).sign(await importJWK(signer.privateKey as never, 'ES256'));
}

/** The model: what the pipeline's order says of a mutation. */
function expected(m: Mutation): string {
  if (m.typ === 'JWT' || m.kid === 'unknown') return 'ERR_TOKEN_INVALID';
  if (m.expired) return 'ERR_TOKEN_EXPIRED';
  if (m.aud === 'other') return 'ERR_TOKEN_INVALID';
  if (m.session === 'revoked') return 'ERR_SESSION_REVOKED';
  if (m.jti === 'revoked') return 'ERR_TOKEN_REVOKED';
  return 'accepted';
}

const decision = (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'accepted',
    (err: { code?: string }) => err.code ?? String(err),
  );

beforeAll(async () => {
  baton = createBaton({ issuer: ISSUER, keys: [key], refreshTokenSecret: randomBytes(32), store: memoryStore(), leeway: '5s' });
  const handler = createAuthHandler({ baton, authenticate: async () => null, clients: staticClients([{ id: 'rs', secret: SECRET, introspect: true }]) });
  const heard = new Set<string>();
  rs = remoteIssuer({
    issuer: ISSUER,
    audience: API,
    leewaySec: 5,
    introspection: { clientId: 'rs', clientSecret: SECRET },
    fetch: (input, init) => handler(new Request(input, init), { ip: '127.0.0.1' }),
    onRevocation: (event) => heard.add(event.kind),
  });
  await baton.ready();
  liveSid = (await baton.login('ada')).session_id;
  revokedSid = (await baton.login('ada')).session_id;
  const revokedToken = (await baton.login('ada')).access_token;
  revokedJti = (await baton.verify(revokedToken)).jti;
  // The remote issuer follows the feed from its first verification: the revocations come after.
  await rs.verify(await sign({ typ: 'at+jwt', kid: 'known', expired: false, aud: 'this', session: 'live', jti: 'fresh' }));
  await baton.revokeSession(revokedSid);
  await baton.revoke(revokedToken);
  for (let i = 0; i < 200 && !(heard.has('session') && heard.has('token')); i++) await new Promise((r) => setTimeout(r, 10));
  expect([...heard].sort()).toEqual(['session', 'token']);
});

afterAll(async () => {
  rs?.close();
  await baton.close();
});

it('the engine and remoteIssuer, one pipeline over two sources, decide every token alike and as the model says, from the cache too', async () => {
  await fc.assert(
    fc.asyncProperty(mutations, async (m) => {
      const token = await sign(m);
      const want = expected(m);
      for (let round = 0; round < 2; round++) {
        // The second round: an accepted token comes from each verified-token cache.
        const [local, remote] = await Promise.all([decision(baton.verify(token, { audience: API })), decision(rs.verify(token, { audience: API }))]);
        expect({ m, round, local, remote }).toEqual({ m, round, local: want, remote: want });
      }
      if (want === 'accepted') {
        expect(baton.verifySync(token, { audience: API })?.sub).toBe(rs.verifySync?.(token, { audience: API })?.sub);
        expect(() => rs.verifySync?.(token, { audience: 'https://third.test' })).toThrow(expect.objectContaining({ code: 'ERR_TOKEN_INVALID' }));
        expect(() => baton.verifySync(token, { audience: 'https://third.test' })).toThrow(expect.objectContaining({ code: 'ERR_TOKEN_INVALID' }));
      }
    }),
    { numRuns: 120 },
  );
});

it('a session revoked after its token was cached is refused by both, from the cache', async () => {
  const heard = new Promise<void>((resolve) => {
    const off = baton.onRevocation(() => {
      off();
      resolve();
    });
  });
  const m: Mutation = { typ: 'at+jwt', kid: 'known', expired: false, aud: 'this', session: 'live', jti: 'fresh' };
  const token = await sign(m);
  expect(await decision(baton.verify(token, { audience: API }))).toBe('accepted');
  expect(await decision(rs.verify(token, { audience: API }))).toBe('accepted');
  await baton.revokeSession(liveSid);
  await heard;
  let remote = 'accepted';
  for (let i = 0; i < 200 && remote === 'accepted'; i++) {
    remote = await decision(rs.verify(token, { audience: API }));
    if (remote === 'accepted') await new Promise((r) => setTimeout(r, 10));
  }
  expect({ local: await decision(baton.verify(token, { audience: API })), remote }).toEqual({ local: 'ERR_SESSION_REVOKED', remote: 'ERR_SESSION_REVOKED' });
});
