/**
 * The thinnest server session the SSR contract describes (docs: the contract's `createServerSession`,
 * remote mode only), for this example while `baton-auth/ssr` is not there: two HttpOnly cookies on
 * the app's origin, verification by `remoteIssuer` (JWKS and the revocation feed), one refresh in
 * flight per refresh token in this process, its result remembered for the grace window.
 */
import { remoteIssuer } from 'baton-auth/remote';
import type { AccessTokenClaims } from 'baton-auth';

export type SessionState =
  | { status: 'signed-in'; claims: Readonly<AccessTokenClaims>; accessToken: string; expiresAt: number }
  | { status: 'signed-out'; reason: string | null; description: string };

export type SessionSnapshot =
  { status: 'signed-in'; sub: string; name?: string; scope: string; expiresAt: number } | { status: 'signed-out'; reason: string | null; description: string };

export interface RemoteSessionOptions {
  issuer: string;
  clientId: string;
  clientSecret?: string;
  refreshLeewaySec?: number;
}

const AT = 'baton_at';
const RT = 'baton_rt';
/** How long a refresh's result is handed to late racers that still hold the old cookie (the service's grace window is longer). */
const MEMO_MS = 5_000;

interface Pair {
  access_token: string;
  refresh_token: string;
  expires_in: number;
  refresh_expires_in?: number;
}
type Refreshed = { pair: Pair } | { ended: { reason: string; description: string } } | { failed: string };

function cookieOf(header: string | null, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function withCookies(header: string | null, values: Record<string, string | undefined>): string | null {
  const kept = (header ?? '')
    .split(';')
    .map((p) => p.trim())
    .filter((p) => p !== '' && !(p.slice(0, p.indexOf('=')) in values));
  for (const [name, value] of Object.entries(values)) if (value !== undefined) kept.push(`${name}=${value}`);
  return kept.length === 0 ? null : kept.join('; ');
}

const cookie = (name: string, value: string, maxAgeSec: number): string => `${name}=${value}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${maxAgeSec}`;
const pairCookies = (p: Pair): string[] => [cookie(AT, p.access_token, p.expires_in), cookie(RT, p.refresh_token, p.refresh_expires_in ?? 30 * 86_400)];
const cleared = (): string[] => [cookie(AT, '', 0), cookie(RT, '', 0)];

/** Why a token is refused, as a session's end reason. */
function reasonOf(err: unknown): { reason: string; description: string } {
  const code = (err as { code?: string }).code ?? 'ERR_TOKEN_INVALID';
  const description = err instanceof Error ? err.message : String(err);
  if (code === 'ERR_SESSION_REVOKED' || code === 'ERR_TOKEN_REVOKED') return { reason: 'revoked', description };
  if (code === 'ERR_TOKEN_EXPIRED') return { reason: 'expired', description };
  return { reason: 'invalid', description };
}

export function createServerSession(options: RemoteSessionOptions) {
  const { issuer, clientId, clientSecret } = options;
  const leewayMs = (options.refreshLeewaySec ?? 0) * 1000;
  const verifier = remoteIssuer({ issuer, audience: issuer, ...(clientSecret === undefined ? {} : { introspection: { clientId, clientSecret } }) });
  const flights = new Map<string, { result: Promise<Refreshed>; until: number }>();
  const clientAuth = (): Record<string, string> =>
    clientSecret === undefined ? { client_id: clientId } : { client_id: clientId, client_secret: clientSecret };

  async function post(path: string, fields: Record<string, string>): Promise<Response> {
    return fetch(new URL(path, issuer), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...fields, ...clientAuth() }),
    });
  }

  async function stateOf(accessToken: string | undefined): Promise<SessionState> {
    if (accessToken === undefined || accessToken === '') return { status: 'signed-out', reason: null, description: 'Not signed in' };
    try {
      const claims = await verifier.verify(accessToken);
      return { status: 'signed-in', claims, accessToken, expiresAt: claims.exp * 1000 };
    } catch (err) {
      return { status: 'signed-out', ...reasonOf(err) };
    }
  }

  async function rotate(refreshToken: string): Promise<Refreshed> {
    const res = await post('/oauth/token', { grant_type: 'refresh_token', refresh_token: refreshToken });
    const body = (await res.json().catch(() => ({}))) as Pair & { error?: string; error_description?: string; session_end?: { reason?: string } };
    if (res.ok) return { pair: body };
    if (body.error === 'invalid_grant')
      return { ended: { reason: body.session_end?.reason ?? 'invalid_grant', description: body.error_description ?? 'Signed out' } };
    return { failed: body.error_description ?? `the issuer answered ${res.status}` };
  }

  /** One refresh per refresh token in this process; racers within MEMO_MS get the same answer. */
  function refreshOnce(refreshToken: string): Promise<Refreshed> {
    const now = Date.now();
    for (const [k, f] of flights) if (f.until < now) flights.delete(k);
    const found = flights.get(refreshToken);
    if (found !== undefined) return found.result;
    const result = rotate(refreshToken).catch((err: unknown) => ({ failed: String(err) }) as Refreshed);
    flights.set(refreshToken, { result, until: now + MEMO_MS });
    return result;
  }

  return {
    read: (cookieHeader: string | null): Promise<SessionState> => stateOf(cookieOf(cookieHeader, AT)),

    async refresh(cookieHeader: string | null): Promise<{ state: SessionState; setCookies: string[]; requestCookie: string | null }> {
      const current = await stateOf(cookieOf(cookieHeader, AT));
      const refreshToken = cookieOf(cookieHeader, RT);
      const due = current.status === 'signed-out' ? current.reason !== 'revoked' : current.expiresAt - Date.now() < leewayMs;
      if (!due || refreshToken === undefined || refreshToken === '') return { state: current, setCookies: [], requestCookie: cookieHeader };
      const r = await refreshOnce(refreshToken);
      if ('pair' in r) {
        const requestCookie = withCookies(cookieHeader, { [AT]: r.pair.access_token, [RT]: r.pair.refresh_token });
        return { state: await stateOf(r.pair.access_token), setCookies: pairCookies(r.pair), requestCookie };
      }
      if ('ended' in r)
        return { state: { status: 'signed-out', ...r.ended }, setCookies: cleared(), requestCookie: withCookies(cookieHeader, { [AT]: '', [RT]: '' }) };
      return { state: current, setCookies: [], requestCookie: cookieHeader };
    },

    async signIn(input: { username: string; password: string }): Promise<{ state: SessionState; setCookies: string[] }> {
      const res = await post('/auth/login', { username: input.username, password: input.password });
      const body = (await res.json().catch(() => ({}))) as Pair & { error_description?: string };
      if (!res.ok)
        return { state: { status: 'signed-out', reason: null, description: body.error_description ?? `Sign-in failed (${res.status})` }, setCookies: [] };
      return { state: await stateOf(body.access_token), setCookies: pairCookies(body) };
    },

    async signOut(cookieHeader: string | null): Promise<{ setCookies: string[] }> {
      const refreshToken = cookieOf(cookieHeader, RT);
      // RFC 7009 §2.1: the refresh token, which ends its session.
      if (refreshToken) await post('/oauth/revoke', { token: refreshToken, token_type_hint: 'refresh_token' }).catch(() => undefined);
      return { setCookies: cleared() };
    },

    snapshot(state: SessionState): SessionSnapshot {
      if (state.status === 'signed-out') return state;
      return { status: 'signed-in', sub: state.claims.sub, scope: state.claims.scope ?? '', expiresAt: state.expiresAt };
    },
  };
}

export type ServerSession = ReturnType<typeof createServerSession>;
