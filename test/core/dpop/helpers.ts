/**
 * Red-team helpers for DPoP (RFC 9449): proofs with any header or claims (made with jose,
 * independently of Baton), the three example apps over real HTTP, a raw HTTP/1.1 client that sends
 * exactly the Host and request target it is given, and a DPoP-bound login through the nonce flow.
 */
import { createHash, randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT } from 'jose';
import type { CryptoKey, JWK } from 'jose';
import type { BatonOptions } from 'baton-auth';
import { createApp as expressApp } from '../../../examples/express.ts';
import { createApp as fastifyApp } from '../../../examples/fastify.ts';
import { createApp as honoApp } from '../../../examples/hono.ts';
import { demo, DEMO_API, DEMO_USER } from '../../../examples/demo.ts';

export interface Key {
  alg: string;
  privateKey: CryptoKey;
  jwk: JWK;
  jkt: string;
}

export async function newKey(alg: 'ES256' | 'EdDSA' | 'RS256' | 'PS256' = 'ES256', options: { modulusLength?: number } = {}): Promise<Key> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true, ...options });
  const jwk = await exportJWK(publicKey);
  return { alg, privateKey, jwk, jkt: await calculateJwkThumbprint(jwk, 'sha256') };
}

export const ath = (token: string): string => createHash('sha256').update(token).digest('base64url');

/** A proof; `header` and `claims` override anything (set a member to undefined to drop it). */
export function proof(key: Key, htm: string, htu: string, o: { accessToken?: string; nonce?: string; iat?: number; claims?: Record<string, unknown>; header?: Record<string, unknown> } = {}): Promise<string> {
  const claims: Record<string, unknown> = {
    jti: randomBytes(12).toString('base64url'), htm, htu, iat: o.iat ?? Math.floor(Date.now() / 1000),
    ...(o.nonce === undefined ? {} : { nonce: o.nonce }),
    ...(o.accessToken === undefined ? {} : { ath: ath(o.accessToken) }),
    ...o.claims,
  };
  for (const k of Object.keys(claims)) if (claims[k] === undefined) delete claims[k];
  const header: Record<string, unknown> = { alg: key.alg, typ: 'dpop+jwt', jwk: key.jwk, ...o.header };
  return new SignJWT(claims).setProtectedHeader(header as never).sign(key.privateKey);
}

export type Started = { name: string; base: string; port: number; close: () => Promise<void> };
export type Demo = ReturnType<typeof demo>;

const closeServer = (server: Server) => (): Promise<void> => new Promise((r) => server.close(() => r()));
const listening = async (server: Server): Promise<number> => {
  if (!server.listening) await new Promise((r) => server.once('listening', r));
  return (server.address() as AddressInfo).port;
};

/** The example app of a framework, listening on 127.0.0.1. */
export const frameworks: Record<'express' | 'fastify' | 'hono', (d: Demo) => Promise<Started>> = {
  express: async (d) => {
    const server = expressApp(d.baton, d.handler).listen(0, '127.0.0.1');
    const port = await listening(server);
    return { name: 'express', base: `http://127.0.0.1:${port}`, port, close: closeServer(server) };
  },
  fastify: async (d) => {
    const app = await fastifyApp(d.baton, d.handler);
    await app.listen({ port: 0, host: '127.0.0.1' });
    const port = (app.server.address() as AddressInfo).port;
    return { name: 'fastify', base: `http://127.0.0.1:${port}`, port, close: () => app.close() };
  },
  hono: async (d) => {
    const server = serve({ fetch: honoApp(d.baton, d.handler).fetch, port: 0, hostname: '127.0.0.1' }) as Server;
    const port = await listening(server);
    return { name: 'hono', base: `http://127.0.0.1:${port}`, port, close: closeServer(server) };
  },
};

export function startDemo(overrides: Partial<BatonOptions> = {}): Demo {
  return demo('http://127.0.0.1', { refreshRateLimit: false, ...overrides });
}

/** A raw HTTP/1.1 request: the request target and Host header exactly as given. */
export function raw(port: number, method: string, target: string, headers: Record<string, string>, body?: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: target, method, headers: { ...headers, ...(body === undefined ? {} : { 'content-length': String(Buffer.byteLength(body)) }) }, setHost: false }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A DPoP-bound login at `base`/auth/login through one use_dpop_nonce round (RFC 9449 §8). */
export async function boundLogin(base: string, key: Key, resource: string | null = DEMO_API): Promise<{ access_token: string; refresh_token: string; token_type: string; session_id: string; nonce: string }> {
  const body = JSON.stringify({ ...DEMO_USER, ...(resource === null ? {} : { resource }) });
  const post = async (nonce?: string) => fetch(`${base}/auth/login`, {
    method: 'POST', headers: { 'content-type': 'application/json', dpop: await proof(key, 'POST', `${base}/auth/login`, nonce === undefined ? {} : { nonce }) }, body,
  });
  const asked = await post();
  const nonce = asked.headers.get('dpop-nonce');
  if (asked.status !== 400 || nonce === null) throw new Error(`expected use_dpop_nonce, got ${asked.status}`);
  const res = await post(nonce);
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${await res.text()}`);
  return { ...((await res.json()) as { access_token: string; refresh_token: string; token_type: string; session_id: string }), nonce: res.headers.get('dpop-nonce') ?? nonce };
}

export { DEMO_API, DEMO_USER };
