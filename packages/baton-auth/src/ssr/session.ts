/**
 * `createServerSession`: a server-rendered app's side of the session (a backend-for-frontend),
 * written once for every framework — Web `Headers` and cookie strings in, state and `Set-Cookie`
 * strings out. Import from `baton-auth/ssr`; `baton-auth/next` and `baton-auth/sveltekit` adapt it.
 */
import type { TokenPair } from '../core/baton.ts';
import { BatonConfigError, BatonError, isBatonError } from '../core/errors.ts';
import type { BatonErrorCode } from '../core/errors.ts';
import type { SessionSnapshot } from '../protocol/session-snapshot.ts';
import { clearEndCookie, endCookies, pairCookies, readCookies, rewriteCookieHeader, sessionCookieNames } from './cookies.ts';
import type { SessionCookies } from './cookies.ts';
import { inProcessBackend } from './in-process.ts';
import { endsSession, refreshOnce } from './refresh-once.ts';
import { remoteBackend } from './remote.ts';
import { inspectionOf, signedIn, signedOut, snapshotOf, unavailable } from './state.ts';
import type { Inspection } from './state.ts';
import type { Backend, RemoteSessionOptions, ServerSessionOptions, SessionState } from './types.ts';

/** What `refresh` answers: the state, the `Set-Cookie` strings for the response, and the Cookie header the rest of the render must read (null: none). */
export interface RefreshOutcome {
  state: SessionState;
  setCookies: string[];
  requestCookie: string | null;
}

/** The session of a server-rendered app. */
export interface ServerSession {
  /** Verifies only, never refreshes (server components, which cannot write cookies). */
  read(cookieHeader: string | null): Promise<SessionState>;
  /**
   * Refreshes when the access cookie is missing, expired or within `refreshLeewaySec` of its end
   * and a refresh cookie is present: once per refresh token in this process, the result remembered
   * for `memoMs` for late racers. Returns the state, the cookies to set (on a response that then
   * carries `Cache-Control: private, no-store`, `noStore`), and the Cookie header to forward.
   * The service away keeps the cookies (`unavailable`); only its `invalid_grant` clears them.
   */
  refresh(cookieHeader: string | null): Promise<RefreshOutcome>;
  /** Signs in with a username and password; a refused sign-in is a `signed-out` state saying why, the service away `unavailable`. */
  signIn(input: { username: string; password: string; ip?: string }): Promise<{ state: SessionState; setCookies: string[] }>;
  /** Revokes the session at the service (RFC 7009) and clears both cookies, even when the service is away (`revoked: false` then). */
  signOut(cookieHeader: string | null): Promise<{ setCookies: string[]; revoked: boolean }>;
  /** The state as the page may show it (no token). */
  snapshot(state: SessionState): SessionSnapshot;
  /** Stops following the service's revocation feed (remote mode). */
  close(): void;
}

function numberOption(value: number | undefined, fallback: number, min: number, max: number, name: string): number {
  const v = value ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) throw new BatonConfigError(`${name} must be a number between ${min} and ${max}.`);
  return v;
}

function backendOf(options: ServerSessionOptions): Backend {
  if (typeof options !== 'object' || options === null) throw new BatonConfigError('createServerSession needs options: { issuer, clientId } or { baton }.');
  return 'baton' in options && options.baton !== undefined ? inProcessBackend(options) : remoteBackend(options as RemoteSessionOptions);
}

/**
 * Creates the session of a server-rendered app, against the standalone service (`issuer`) or a `Baton` in this process.
 *
 * @example
 * ```ts
 * import { createServerSession } from 'baton-auth/ssr';
 * const session = createServerSession({ issuer: 'https://auth.example.com', clientId: 'web' });
 * const { state, setCookies, requestCookie } = await session.refresh(request.headers.get('cookie'));
 * ```
 */
export function createServerSession(options: ServerSessionOptions): ServerSession {
  const backend = backendOf(options);
  const c = sessionCookieNames(options.cookies);
  const leewaySec = numberOption(options.refreshLeewaySec, 10, 0, 3600, 'refreshLeewaySec');
  const { refresh: refreshPair, forget } = refreshOnce((rt) => backend.refresh(rt), numberOption(options.memoMs, 5000, 0, 60_000, 'memoMs'));
  const inspect = (token: string): Promise<Inspection> =>
    backend.verify(token).then(
      (claims) => ({ kind: 'valid', claims }) as const,
      (err: unknown) => inspectionOf(err),
    );
  return {
    async read(header) {
      let cookies;
      try {
        cookies = readCookies(c, header);
      } catch (err) {
        return signedOut(null, (err as Error).message);
      }
      if (cookies.access !== undefined) {
        const seen = await inspect(cookies.access);
        if (seen.kind === 'valid') return signedIn(seen.claims, cookies.access);
        if (seen.kind === 'unavailable') return unavailable(seen.error);
        if (seen.kind === 'ended') return signedOut(seen.reason);
      }
      if (cookies.end !== undefined) return cookies.end === 'unavailable' ? unavailable() : signedOut(cookies.end);
      if (cookies.refresh !== undefined) return signedOut(null, 'The access token expired and was not refreshed: run the proxy (or withRefresh) on this path.');
      return signedOut(null);
    },
    refresh: (header) => refreshSession(c, refreshPair, inspect, leewaySec, options.now ?? Date.now, header),
    signIn: (input) => signIn(c, backend, input),
    async signOut(header) {
      let refresh: string | undefined;
      try {
        refresh = readCookies(c, header).refresh;
      } catch {
        refresh = undefined; // two cookies of one name: clear them all the same
      }
      let revoked = refresh === undefined;
      if (refresh !== undefined) forget(refresh);
      if (refresh !== undefined)
        revoked = await backend.revoke(refresh).then(
          () => true,
          () => false,
        );
      return { setCookies: endCookies(c, 'logout'), revoked };
    },
    snapshot: snapshotOf,
    close: () => backend.close(),
  };
}

/**
 * Whether an access token valid until `exp` is near enough its end to be refreshed now: within the
 * leeway, and at most a 25th of its life — each early refresh shortens a token's use by the leeway,
 * so the cap keeps a session at one rotation per token lifetime, plus one every 25 (15-minute
 * tokens keep the whole 10 s; 5-second ones refresh 0.2 s before their end, the verifiers'
 * clock leeway covering requests already on their way).
 */
function nearEnd(claims: { exp: number; iat: number }, leewaySec: number, now: number): boolean {
  const leeway = Math.min(leewaySec, Math.max(0, (claims.exp - claims.iat) / 25));
  return claims.exp * 1000 - now <= leeway * 1000;
}

async function refreshSession(
  c: SessionCookies,
  refreshPair: (rt: string) => Promise<TokenPair>,
  inspect: (token: string) => Promise<Inspection>,
  leewaySec: number,
  now: () => number,
  header: string | null,
): Promise<RefreshOutcome> {
  const unchanged = (state: SessionState): RefreshOutcome => ({ state, setCookies: [], requestCookie: header });
  const ended = (reason: string | null, description?: string): RefreshOutcome => ({
    state: signedOut(reason, description),
    setCookies: endCookies(c, reason),
    requestCookie: rewriteCookieHeader(header, { [c.at]: undefined, [c.rt]: undefined, [c.end]: reason ?? undefined }),
  });
  let cookies;
  try {
    cookies = readCookies(c, header);
  } catch (err) {
    return ended(null, (err as Error).message);
  }
  const seen: Inspection = cookies.access === undefined ? { kind: 'stale' } : await inspect(cookies.access);
  if (seen.kind === 'valid' && (cookies.refresh === undefined || !nearEnd(seen.claims, leewaySec, now())))
    return unchanged(signedIn(seen.claims, cookies.access as string));
  if (seen.kind === 'unavailable') return unchanged(unavailable(seen.error));
  if (cookies.refresh === undefined) {
    if (seen.kind === 'ended') return ended(seen.reason);
    if (cookies.access !== undefined) return ended(null, 'The session expired; sign in again.');
    return unchanged(cookies.end === undefined ? signedOut(null) : cookies.end === 'unavailable' ? unavailable() : signedOut(cookies.end));
  }
  let pair: TokenPair;
  try {
    pair = await refreshPair(cookies.refresh);
  } catch (err) {
    if (endsSession(err))
      return ended((err as BatonError).sessionEnd?.reason ?? (seen.kind === 'ended' ? seen.reason : null), 'The session ended; sign in again.');
    // The service away, slow or refusing this app: the session is kept, cookies and all.
    if (seen.kind === 'valid') return unchanged(signedIn(seen.claims, cookies.access as string));
    return { state: unavailable(err), setCookies: [], requestCookie: rewriteCookieHeader(header, { [c.end]: 'unavailable' }) };
  }
  const fresh = await inspect(pair.access_token);
  // A pair of a session already revoked (another instance's memo after a sign-out there) is not written back: the session is over.
  if (fresh.kind === 'ended') return ended(fresh.reason);
  // Otherwise the new pair is written whatever comes next: the rotation happened, and the old cookie would soon be a reuse.
  const setCookies = cookies.end === undefined ? pairCookies(c, pair) : [...pairCookies(c, pair), clearEndCookie(c)];
  const requestCookie = rewriteCookieHeader(header, { [c.at]: pair.access_token, [c.rt]: pair.refresh_token, [c.end]: undefined });
  return { state: fresh.kind === 'valid' ? signedIn(fresh.claims, pair.access_token) : unavailable(), setCookies, requestCookie };
}

const LOGIN_KEEPS: ReadonlySet<string> = new Set<BatonErrorCode>(['ERR_LOGIN_FAILED', 'ERR_RATE_LIMITED', 'ERR_INVALID_REQUEST', 'ERR_INVALID_SCOPE']);

async function signIn(
  c: SessionCookies,
  backend: Backend,
  input: { username: string; password: string; ip?: string },
): Promise<{ state: SessionState; setCookies: string[] }> {
  const { username, password, ip } = input ?? ({} as never);
  if (typeof username !== 'string' || typeof password !== 'string' || username === '' || password === '' || username.length > 256 || password.length > 1024) {
    return { state: signedOut(null, 'Enter a username (at most 256 characters) and a password (at most 1024).'), setCookies: [] };
  }
  let pair: TokenPair;
  try {
    pair = await backend.login(username, password, ip);
  } catch (err) {
    if (isBatonError(err) && LOGIN_KEEPS.has(err.code))
      return { state: signedOut(null, err.code === 'ERR_RATE_LIMITED' ? 'Too many attempts; try again later.' : err.message), setCookies: [] };
    if (isBatonError(err) && (err.code === 'ERR_STORE_UNAVAILABLE' || err.code === 'ERR_SHUTTING_DOWN' || err.code === 'ERR_STARTING'))
      return { state: unavailable(err), setCookies: [] };
    throw err;
  }
  const claims = await backend.verify(pair.access_token).catch((err: unknown) => {
    throw isBatonError(err) ? err : new BatonError('ERR_INTERNAL', 'the new access token did not verify', { cause: err });
  });
  return { state: signedIn(claims, pair.access_token), setCookies: [...pairCookies(c, pair), clearEndCookie(c)] };
}
