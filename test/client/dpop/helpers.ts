/**
 * Shared pieces of the client-side DPoP red team: the real service over HTTP, small hostile
 * `node:http` servers on other loopback ports (other origins), a fetch that records every request
 * the SDK makes, and proof decoding with an independent verifier (jose).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { EmbeddedJWK, jwtVerify } from 'jose';
import type { JWTPayload } from 'jose';
import { createTokenClient, memoryStorage } from 'baton-auth-client';
import type { TokenClientOptions } from 'baton-auth-client';
import { recordingServer } from '../../support/recording-server.ts';
import type { RecordingServer, Seen } from '../../support/recording-server.ts';
import { startTestService } from '../../support/service.ts';
import type { TestService } from '../../support/service.ts';

export const USER = { username: 'tester', password: 'tester password 1' };

/** A request a hostile server saw: method, target, headers, body. */
export type Hit = Seen;

export interface Hostile {
  url: string;
  hits: Hit[];
  close(): Promise<void>;
}

/** A plain HTTP server on 127.0.0.1 (its own origin) that records every request, headers and all. */
export async function hostile(handle: (req: IncomingMessage, res: ServerResponse, body: string, hits: Hit[]) => void): Promise<Hostile> {
  const server: RecordingServer = await recordingServer((req, res, body) => handle(req, res, body, server.seen));
  return { url: server.url, hits: server.seen, close: () => server.close() };
}

export interface Sent {
  method: string;
  url: string;
  authorization: string | null;
  dpop: string | null;
  body: string;
  status: number;
}

/** A fetch that records what the SDK sends (after its own headers) and the status it got. */
export function recordingFetch(inner: typeof fetch = fetch): { fetch: typeof fetch; sent: Sent[] } {
  const sent: Sent[] = [];
  const f = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init);
    const body = request.body === null ? '' : await request.clone().text();
    const response = await inner(request);
    sent.push({
      method: request.method,
      url: request.url,
      authorization: request.headers.get('authorization'),
      dpop: request.headers.get('dpop'),
      body,
      status: response.status,
    });
    return response;
  };
  return { fetch: f as typeof fetch, sent };
}

/** A proof's payload, verified with its embedded key (jose): a proof the SDK signed. */
export async function proofPayload(proof: string | null | undefined): Promise<JWTPayload & { htm?: string; htu?: string; ath?: string; nonce?: string }> {
  if (typeof proof !== 'string') throw new Error('no proof');
  return (await jwtVerify(proof, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: ['ES256'] })).payload;
}

export async function service(env: Record<string, string> = {}): Promise<TestService & { rotations: () => number }> {
  const s = await startTestService({ BATON_ACCESS_TTL: '60s', BATON_REFRESH_TTL: '1h', BATON_REFRESH_GRACE: '1s', ...env }, USER);
  let rotations = 0;
  s.server.service.baton.on('refresh.rotated', () => rotations++);
  return Object.assign(s, { rotations: () => rotations });
}

/** A client of `issuer` with quick retries. */
export function client(issuer: string, options: Partial<TokenClientOptions> = {}) {
  return createTokenClient({ issuer, clientId: 'default', storage: memoryStorage(), retry: { attempts: 2, baseMs: 1, maxMs: 2 }, ...options });
}

/** Signs in through the service's login endpoint with DPoP (bound session). */
export async function boundClient(s: TestService, options: Partial<TokenClientOptions> = {}) {
  const c = client(s.url, options);
  const tokens = await c.signIn(`${s.url}/auth/login`, USER);
  if (tokens.tokenType !== 'DPoP') throw new Error('expected a bound session');
  return { client: c, tokens };
}

/** An allowed API whose `/go` redirects (307) to `target`'s `/catch`; anything else answers 200 `{}`. */
export function redirectingApi(target: () => string): Promise<Hostile> {
  return hostile((req, res) => {
    if (req.url?.startsWith('/go')) res.writeHead(307, { location: `${target()}/catch` }).end();
    else res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
}
