/**
 * The red team's harness for the verification pipeline (`core/pipeline.ts`): one issuer (a Baton
 * engine on a memory store, its handler) and `remoteIssuer` reaching that handler in process
 * through its `fetch` option (discovery, JWKS, feed, introspection: each request counted by path),
 * both on one injected clock (`clock.t`) so that time attacks are exact.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { importJWK, SignJWT } from 'jose';
import type { JWK } from 'jose';
import { afterAll, beforeAll } from 'vitest';
import { createBaton, generateKey } from 'baton-auth';
import type { Baton, BatonOptions } from 'baton-auth';
import { createAuthHandler, staticClients } from 'baton-auth/http';
import { remoteIssuer } from 'baton-auth/remote';
import { memoryStore } from 'baton-auth/stores/memory';

export const ISSUER = 'https://auth.test';
export const API = 'https://api.test';
const SECRET = 'resource-server-secret-of-32-characters';
export const key = generateKey('ES256', 'es');
export const stranger = generateKey('ES256', 'es-unknown');

export const clock = { t: Date.now() };
const now = (): number => clock.t;
export const sec = (): number => Math.floor(clock.t / 1000);

export type Verifier = 'engine' | 'remote';
export const verifiers: Verifier[] = ['engine', 'remote'];

export interface Harness {
  baton: Baton;
  rs: ReturnType<typeof remoteIssuer>;
  /** Requests remoteIssuer made of the issuer, by path. */
  asked: Map<string, number>;
}

/** The issuer and the remote verifier, made before the file's tests and closed after them. */
export function setup(extra: Partial<BatonOptions> = {}): Harness {
  const h = { asked: new Map<string, number>() } as Harness;
  beforeAll(async () => {
    h.baton = createBaton({ issuer: ISSUER, keys: [key], refreshTokenSecret: randomBytes(32), store: memoryStore(), leeway: '5s', now, ...extra });
    const handler = createAuthHandler({
      baton: h.baton,
      authenticate: async () => null,
      clients: staticClients([{ id: 'rs', secret: SECRET, introspect: true }]),
    });
    h.rs = remoteIssuer({
      issuer: ISSUER,
      audience: API,
      leewaySec: 5,
      now,
      introspection: { clientId: 'rs', clientSecret: SECRET },
      fetch: (input, init) => {
        const path = new URL(input instanceof Request ? input.url : String(input)).pathname;
        h.asked.set(path, (h.asked.get(path) ?? 0) + 1);
        return handler(new Request(input, init), { ip: '127.0.0.1' });
      },
    });
    await h.baton.ready();
    await h.rs.verify(await sign()); // discovery, the key set and the feed, once
  });
  afterAll(async () => {
    h.rs?.close();
    await h.baton?.close();
  });
  return h;
}

export function verifyWith(h: Harness, v: Verifier, token: string, o: Parameters<Baton['verify']>[1] = { audience: API }): Promise<unknown> {
  return v === 'engine' ? h.baton.verify(token, o) : h.rs.verify(token, o);
}

/** 'accepted', or the refusal's code. */
export const decision = (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'accepted',
    (err: { code?: string }) => err.code ?? String(err),
  );

const defined = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

/** A client's own token signed with `signer` (default the issuer's key): every claim of RFC 9068 §2.2, `extra` over them (undefined drops one). */
export async function sign(extra: Record<string, unknown> = {}, header: Record<string, unknown> = {}, signer = key): Promise<string> {
  const claims = defined({ iss: ISSUER, aud: API, sub: 'app', client_id: 'app', iat: sec() - 10, exp: sec() + 300, jti: randomUUID(), ...extra });
  const h = defined({ alg: 'ES256', typ: 'at+jwt', kid: signer.kid, ...header });
  return new SignJWT(claims).setProtectedHeader(h as never).sign(await importJWK(signer.privateKey as never, 'ES256'));
}

/** The public half of a generated key, as a JWKS publishes it. */
export function publicOf(k: ReturnType<typeof generateKey>): JWK {
  const { d: _d, ...pub } = (k as { privateKey: JWK }).privateKey;
  return pub;
}

export const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
