/**
 * The authorization endpoint under test: a handler on a memory store with a manual clock, its
 * clients and users, and a small browser — a cookie jar that sends `Origin` with its form posts, as
 * a browser does — to walk the code flow with `Request`s (no server).
 */
import { createHash, randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import { generateKey } from 'baton-auth';
import { createAuthHandler, staticClients } from 'baton-auth/http';
import type { AuthHandlerOptions, ClientRecord, ClientRegistry, StaticClient } from 'baton-auth/http';
import { openCode } from '../../packages/baton-auth/src/authz/codes.ts';
import type { HandlerContext } from '../../packages/baton-auth/src/http/context.ts';
import { ISSUER, makeBaton } from './baton.ts';

export { ISSUER };
export const APP = 'https://app.example';
export const CB = `${APP}/cb`;
export const SECRET = 'conf-secret-of-at-least-32-characters!';

export const CLIENTS: StaticClient[] = [
  { id: 'default' },
  { id: 'first', redirectUris: [CB], firstParty: true, scopes: ['openid', 'profile', 'orders:read'] },
  { id: 'app', name: 'Shop <App>', redirectUris: [CB, `${APP}/other?keep=1`], scopes: ['openid', 'profile', 'orders:read'] },
  { id: 'par-only', redirectUris: [CB], requirePar: true, firstParty: true },
  { id: 'conf', secret: SECRET, redirectUris: [CB], firstParty: true },
  { id: 'native', redirectUris: ['http://127.0.0.1/callback'], firstParty: true },
];

export const USERS: Record<string, { password: string; scope: string }> = {
  alice: { password: 'correct horse', scope: 'profile orders:read' },
  bob: { password: 'battery staple', scope: 'profile' },
};

export function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/** A browser: keeps the cookies it is given and sends them back; its form posts carry `Origin`. */
export class Browser {
  readonly jar = new Map<string, string>();
  readonly call: (path: string, init?: RequestInit) => Promise<Response>;
  constructor(call: (path: string, init?: RequestInit) => Promise<Response>) {
    this.call = call;
  }

  private keep(res: Response): Response {
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';') as [string];
      const eq = pair.indexOf('=');
      const [name, value] = [pair.slice(0, eq), pair.slice(eq + 1)];
      if (/max-age=0/i.test(line)) this.jar.delete(name);
      else this.jar.set(name, value);
    }
    return res;
  }

  cookieHeader(): string {
    return [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  async get(pathOrUrl: string, headers: Record<string, string> = {}): Promise<Response> {
    const path = pathOrUrl.startsWith(ISSUER) ? pathOrUrl.slice(ISSUER.length) : pathOrUrl;
    return this.keep(await this.call(path, { headers: { cookie: this.cookieHeader(), ...headers } }));
  }

  async post(path: string, fields: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
    return this.keep(
      await this.call(path, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: ISSUER, cookie: this.cookieHeader(), ...headers },
        body: new URLSearchParams(fields).toString(),
      }),
    );
  }
}

/** The hidden `txn` field of a page. */
export function txnOf(html: string): string {
  const m = /name="txn" value="([^"]+)"/.exec(html);
  expect(m, 'a form with a txn').not.toBeNull();
  return (m as RegExpExecArray)[1] as string;
}

/** The query of a 303's Location, which must start with `prefix`. */
export function redirectedTo(res: Response, prefix = CB): URLSearchParams {
  expect(res.status).toBe(303);
  const location = res.headers.get('location') ?? '';
  expect(location.startsWith(`${prefix}?`)).toBe(true);
  return new URL(location).searchParams;
}

export function setup(overrides: Partial<AuthHandlerOptions> = {}, clients: StaticClient[] = CLIENTS, engine: Parameters<typeof makeBaton>[0] = {}) {
  // An asymmetric ring: the ID tokens of `openid` are signed with it (an HS256 ring issues none).
  const { baton, clock } = makeBaton({ keys: [generateKey('EdDSA', 'ed-1')], ...engine });
  const logs: string[] = [];
  const logger = {
    info: (o: object, m?: string) => logs.push(JSON.stringify([o, m])),
    warn: (o: object, m?: string) => logs.push(JSON.stringify([o, m])),
    error: (o: object, m?: string) => logs.push(JSON.stringify([o, m])),
  };
  const handler = createAuthHandler({
    baton,
    authenticate: async (u, p) => (USERS[u]?.password === p ? { userId: `id-${u}`, scope: USERS[u].scope } : null),
    clients: staticClients(clients),
    logger,
    ...overrides,
  });
  const call = (path: string, init: RequestInit = {}, ip = '203.0.113.7') => handler(new Request(`${ISSUER}${path}`, init), { ip });
  const c = { baton } as HandlerContext;
  const browser = () => new Browser(call);
  const { verifier, challenge } = pkce();
  const authorizePath = (params: Record<string, string | undefined> = {}) => {
    const q = new URLSearchParams();
    const all: Record<string, string | undefined> = {
      client_id: 'first',
      redirect_uri: CB,
      response_type: 'code',
      state: 'st-123',
      code_challenge: challenge,
      code_challenge_method: 'S256',
      scope: 'openid profile',
      ...params,
    };
    for (const [k, v] of Object.entries(all)) if (v !== undefined) q.append(k, v);
    return `/oauth/authorize?${q}`;
  };
  /** Signs `user` in on the hosted page `page` showed; the answer of the form post. */
  const signIn = async (b: Browser, page: Response, user = 'alice', password = USERS[user]?.password ?? 'x') => {
    expect(page.status).toBe(200);
    return b.post('/oauth/authorize/sign-in', { txn: txnOf(await page.text()), username: user, password });
  };
  const codeOf = async (params: URLSearchParams) => openCode(c, params.get('code') ?? '');
  return { baton, clock, handler, call, browser, authorizePath, signIn, codeOf, verifier, challenge, logs };
}

/**
 * A client registry that keeps what RFC 7591 registration registers (as the service's store does:
 * the cap checked and taken in one step), in front of `fixed`; `kept` is what it holds.
 */
export function keepingClients(fixed?: ClientRegistry): ClientRegistry & { kept: Map<string, ClientRecord> } {
  const kept = new Map<string, ClientRecord>();
  return {
    kept,
    get: async (id) => kept.get(id) ?? (fixed === undefined ? null : fixed.get(id)),
    register: async (record, { maxClients }) => {
      if (kept.size >= maxClients) return false;
      kept.set(record.id, structuredClone(record));
      return true;
    },
  };
}
