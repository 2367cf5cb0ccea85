/**
 * The handler's sign-in with other providers (`AuthHandlerOptions.providers`):
 *
 * - `GET /auth/providers/<name>/start`: from the hosted sign-in page ("Continue with NAME", with the
 *   page's sealed transaction `txn`, this browser's own by its CSRF cookie), or from your page
 *   (`dpop_jkt`: the thumbprint of the page's DPoP key, which the session will be bound to). It
 *   seals the upstream transaction — the state, the nonce, the PKCE verifier and where to return —
 *   into one cookie of this browser (`baton_up`, 10 minutes, HttpOnly) and sends the browser to the
 *   provider. Nothing is written anywhere: a caller starting flows costs a cookie of their own.
 * - `GET|POST /auth/providers/<name>/callback`: the provider's answer, checked against that cookie
 *   (openid-client: `state`, `iss`, PKCE, the ID token and its `nonce`), the cookie spent; the
 *   person signed in as the user `providers.user` links the identity to, and sent back to the
 *   authorization request (the code flow) or to `providers.returnTo` — a fixed place, never a URL
 *   from the request (no open redirect).
 */
import { isBatonError } from '../core/errors.ts';
import type { TokenPair } from '../core/baton.ts';
import { grantScope, parseScope } from '../core/scope.ts';
import type { HandlerContext, Route } from '../http/context.ts';
import { cookieValue, setCookie } from '../http/cookies.ts';
import { budgetAddress } from '../http/login-protection.ts';
import { HttpError, json, readBody } from '../http/respond.ts';
import { afterSignIn, txnClient } from '../authz/flow.ts';
import { errorPage } from '../authz/html.ts';
import { AuthzPageError } from '../authz/request.ts';
import { seeOther } from '../authz/response.ts';
import { asCookie, csrfMatches, nowSec, openTxn, pageCookie, pageCookieName } from '../authz/transaction.ts';
import type { Txn } from '../authz/transaction.ts';
import { UpstreamError } from './provider.ts';
import type { UpstreamIdentity, UpstreamProvider, UpstreamTransaction } from './provider.ts';

/** Who an upstream identity signs in as: the user id, the name they sign in with, and the scopes they may have. */
export interface ProviderUser {
  userId: string;
  username?: string;
  scope?: string;
}

/** Options of sign-in with other providers (`AuthorizationOptions.providers`). */
export interface ProvidersOptions {
  /** The providers, asked at each page and each sign-in (a provider added or removed is seen at once). */
  list(): Promise<readonly UpstreamProvider[]>;
  /**
   * The user an upstream identity signs in as — linked before, linked now through an email the
   * provider verified, or new; null refuses the sign-in. Link only on `emailVerified`: an unverified
   * email is anyone's to type.
   */
  user(identity: UpstreamIdentity): Promise<ProviderUser | null>;
  /** Where a sign-in not started at `/oauth/authorize` returns: a path or URL of this site. Default the issuer's root, `/`. */
  returnTo?: string;
}

/**
 * A provider's answer: the provider sends the browser back, a cross-site navigation (Apple: a
 * cross-site POST, `form_post`), so the handler does not refuse it as cross-site. It is bound to
 * this browser by its sealed transaction cookie and the `state` in it, not by where it comes from.
 */
export const PROVIDER_CALLBACK = '/auth/providers/*/callback';

/** The sealed upstream transaction of the cookie: the provider, openid-client's checks, and where to return. */
interface UpTxn {
  /** The provider's name. */
  p: string;
  u: UpstreamTransaction;
  /** The code flow's transaction to go on with (the hosted page), or none (your page: `returnTo`). */
  x?: { r: Txn['r']; t: number };
  /** Your page: the DPoP key's thumbprint the session is bound to. */
  j?: string;
}

const TXN_TTL_MS = 10 * 60_000;
const COOKIE = 'baton_up';
/** A browser keeps cookies of 4096 bytes: a longer transaction would be dropped silently and the sign-in fail at the callback. */
const MAX_COOKIE_CHARS = 3800;
const JKT = /^[A-Za-z0-9_-]{43}$/;
/**
 * Callbacks of one address (an IPv6 /64) at a provider's token endpoint at once. The provider's
 * own cap (`MAX_CALLBACKS_IN_FLIGHT`, 32) is shared by everyone: without this, one script replaying
 * its own transaction 32 times at once would take every place, and every other person's callback
 * would be refused ("too many sign-ins") for as long as it kept on.
 */
export const MAX_CALLBACKS_PER_ADDRESS = 4;
/** Callbacks in flight, per handler, by provider and address; an entry goes when its last callback ends. */
const inFlightOf = new WeakMap<HandlerContext, Map<string, number>>();

/** A place for a callback of `ip` at `provider`'s token endpoint, and how to give it back; undefined when it has its share. No address known (a host that gives none): the provider's own cap only. */
function takeSlot(c: HandlerContext, provider: string, ip: string): (() => void) | undefined {
  if (ip === 'unknown') return () => undefined;
  let inFlight = inFlightOf.get(c);
  if (inFlight === undefined) inFlightOf.set(c, (inFlight = new Map()));
  const slot = `${provider}\n${budgetAddress(ip)}`;
  const held = inFlight.get(slot) ?? 0;
  if (held >= MAX_CALLBACKS_PER_ADDRESS) return undefined;
  inFlight.set(slot, held + 1);
  return () => {
    const left = (inFlight.get(slot) ?? 1) - 1;
    if (left > 0) inFlight.set(slot, left);
    else inFlight.delete(slot);
  };
}

/** The provider named in the path, or undefined. */
async function providerNamed(c: HandlerContext, name: string | undefined): Promise<UpstreamProvider | undefined> {
  if (c.authz.providers === undefined || name === undefined) return undefined;
  return (await c.authz.providers.list()).find((p) => p.name === name);
}

/** The callback URL of a provider: what you register with it. */
export const callbackUrl = (c: HandlerContext, name: string): string => `${c.issuer}/auth/providers/${name}/callback`;

/** The cookie of an upstream transaction: SameSite=Lax (the provider's redirect is a top-level GET), None for `form_post` (a cross-site POST). */
function txnCookie(c: HandlerContext, p: UpstreamProvider, value: string, maxAgeSec: number): string {
  const lax = pageCookie(c, COOKIE, value, { sameSite: 'Lax', maxAgeSec });
  return p.responseMode === 'form_post' && c.cookie.secure ? lax.replace('SameSite=Lax', 'SameSite=None') : lax;
}

async function start(c: HandlerContext, request: Request, name: string | undefined): Promise<Response> {
  const provider = await providerNamed(c, name);
  if (provider === undefined) return errorPage(c, 404, 'There is no such sign-in provider here.');
  const query = new URL(request.url).searchParams;
  const up: UpTxn = { p: provider.name, u: { state: '', codeVerifier: '' } };
  const sealedTxn = query.get('txn');
  if (sealedTxn !== null) {
    const txn = await openTxn(c, sealedTxn);
    if (txn === undefined) return errorPage(c, 400, 'This sign-in request expired or is not valid. Go back to the application and start again.');
    // The page was shown in this browser (its CSRF cookie): a link from elsewhere starts nothing for it.
    if (!csrfMatches(c, request, txn))
      return errorPage(
        c,
        403,
        'This sign-in page was not shown in this browser (its security cookie is missing or different). Start again from the application.',
      );
    await txnClient(c, txn);
    up.x = { r: txn.r, t: txn.t };
  } else {
    const jkt = query.get('dpop_jkt');
    if (jkt !== null) {
      if (!JKT.test(jkt)) return errorPage(c, 400, 'dpop_jkt must be the RFC 7638 thumbprint of a key (43 base64url characters).');
      up.j = jkt;
    }
  }
  let url: URL;
  try {
    const begun = await provider.start(callbackUrl(c, provider.name));
    up.u = begun.transaction;
    url = begun.url;
  } catch (err) {
    if (err instanceof UpstreamError) return errorPage(c, 502, err.message);
    throw err;
  }
  const sealed = await c.authz.sealer.seal('upstream', up, TXN_TTL_MS);
  if (sealed.length > MAX_COOKIE_CHARS)
    return errorPage(
      c,
      400,
      `This sign-in request is too long to continue with ${provider.label}. Sign in with your password, or ask the application for a shorter request.`,
    );
  c.log?.info({ event: 'provider.start', provider: provider.name }, 'provider sign-in started');
  return seeOther(url.href, [txnCookie(c, provider, sealed, TXN_TTL_MS / 1000)]);
}

/** The callback's request as openid-client reads it: the query (GET), or the form body, within the handler's size limit (`form_post`). */
async function callbackRequest(c: HandlerContext, request: Request): Promise<URL | Request> {
  if (request.method !== 'POST') return new URL(request.url);
  const type = (request.headers.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') throw new AuthzPageError(400, 'The provider’s answer must be a form.');
  return new Request(request.url, { method: 'POST', headers: { 'content-type': type }, body: await readBody(request, c.maxBodyBytes) });
}

/** The Baton session of a sign-in through `provider`, recorded as one (`method: 'provider'`, on the audit event and the session's device). */
async function openSession(c: HandlerContext, request: Request, up: UpTxn, who: ProviderUser, provider: string, ip: string): Promise<TokenPair> {
  const device = { userAgent: (request.headers.get('user-agent') ?? '').slice(0, 256), ip, method: 'provider', provider };
  const clientId = c.defaultClientId;
  let pair: TokenPair;
  if (up.x !== undefined) {
    // The authorization-server session, as at the hosted password sign-in (hosted.ts).
    pair = await c.baton.login(who.userId, { clientId, scope: '', device });
  } else {
    const client = await c.clients.get(clientId);
    const scope = grantScope(undefined, parseScope(who.scope ?? ''), client?.scopes);
    pair = await c.baton.login(who.userId, { clientId, scope, device, ...(up.j === undefined ? {} : { jkt: up.j }) });
  }
  c.log?.info({ event: 'login', sid: pair.session_id, client: clientId, method: 'provider', provider }, 'provider sign-in');
  const username = who.username === undefined ? {} : { username: who.username };
  c.baton.audit({ type: 'login.succeeded', user: who.userId, ...username, session: pair.session_id, client: clientId, ip, method: 'provider', provider });
  return pair;
}

async function callback(c: HandlerContext, request: Request, name: string | undefined, ip: string): Promise<Response> {
  const provider = await providerNamed(c, name);
  if (provider === undefined) return errorPage(c, 404, 'There is no such sign-in provider here.');
  // The transaction is spent whatever happens next: its cookie is cleared in every answer.
  const spent = txnCookie(c, provider, '', 0);
  const page = (status: number, sentence: string): Response => {
    const res = errorPage(c, status, sentence);
    res.headers.append('set-cookie', spent);
    return res;
  };
  const raw = cookieValue(request.headers.get('cookie'), pageCookieName(c, COOKIE));
  const up = raw === undefined ? undefined : await c.authz.sealer.open<UpTxn>('upstream', raw);
  if (up === undefined || up.p !== provider.name) {
    c.baton.audit({ type: 'login.failed', ip, reason: 'provider_no_transaction', client: c.defaultClientId });
    return page(400, `This sign-in with ${provider.label} expired or did not start in this browser. Start again.`);
  }
  let identity: UpstreamIdentity;
  const release = takeSlot(c, provider.name, ip);
  if (release === undefined) {
    c.baton.audit({ type: 'login.failed', ip, reason: 'provider_unavailable', client: c.defaultClientId });
    return page(429, `Too many sign-ins with ${provider.label} from your network are under way right now. Try again in a moment.`);
  }
  try {
    identity = await provider.finish(await callbackRequest(c, request), up.u, callbackUrl(c, provider.name));
  } catch (err) {
    if (!(err instanceof UpstreamError)) throw err;
    // The reason is the refusal's kind; nothing the provider sent is logged but its OAuth error code.
    c.log?.info({ event: 'provider.refused', provider: provider.name, kind: err.kind, ...(err.error ? { error: err.error } : {}) }, 'provider sign-in refused');
    c.baton.audit({ type: 'login.failed', ip, reason: `provider_${err.kind}`, client: c.defaultClientId });
    return page(err.kind === 'unavailable' ? 502 : err.kind === 'denied' ? 403 : 400, err.message);
  } finally {
    release();
  }
  const who = await c.authz.providers?.user(identity);
  if (who === null || who === undefined) {
    c.baton.audit({ type: 'login.failed', ip, reason: 'provider_user_refused', client: c.defaultClientId });
    return page(403, `Your ${provider.label} account may not sign in here.`);
  }
  let pair: TokenPair;
  try {
    pair = await openSession(c, request, up, who, provider.name, ip);
  } catch (err) {
    if (isBatonError(err) && err.code === 'ERR_RATE_LIMITED') return page(429, 'Too many sign-ins for this account right now. Try again in a minute.');
    throw err;
  }
  if (up.x !== undefined) {
    const authTime = nowSec(c);
    const as = await asCookie(c, { userId: who.userId, sid: pair.session_id, authTime, scope: who.scope ?? '' }, pair.refresh_expires_in);
    return afterSignIn(c, request, up.x, { userId: who.userId, authTime, scope: who.scope ?? '' }, [as, spent]);
  }
  // Your page: the session's refresh token in its HttpOnly cookie (as `refresh_token_delivery=cookie`), and back to the one fixed place.
  const rt = setCookie(pair.refresh_token, { ...c.cookie, maxAgeSec: pair.refresh_expires_in });
  return seeOther(c.authz.providers?.returnTo ?? `${c.issuer}/#signed-in`, [rt, spent]);
}

/** `/auth/providers/*` and the route table's names of its two endpoints. */
export function providerRoutes(c: HandlerContext): Record<string, Route> {
  const guarded =
    (fn: (request: Request, ip: string, name: string | undefined) => Promise<Response>) =>
    async (request: Request, ctx: { ip?: string }, params: string[]): Promise<Response> => {
      if (c.authz.providers === undefined) throw new HttpError('ERR_NOT_FOUND', 'No such endpoint');
      try {
        return await fn(request, ctx.ip ?? 'unknown', params[0]);
      } catch (err) {
        if (err instanceof AuthzPageError) return errorPage(c, err.status, err.description);
        if (isBatonError(err) && err.code === 'ERR_STORE_UNAVAILABLE') return errorPage(c, 503, 'The service is unavailable for a moment. Try again shortly.');
        throw err;
      }
    };
  const cb = guarded((request, ip, name) => callback(c, request, name, ip));
  return {
    // The providers a page may offer ("Continue with NAME"): names and labels only.
    '/auth/providers': {
      GET: guarded(async () => json({ providers: (await (c.authz.providers as ProvidersOptions).list()).map((p) => ({ name: p.name, label: p.label })) })),
    },
    '/auth/providers/*/start': { GET: guarded((request, _ip, name) => start(c, request, name)) },
    [PROVIDER_CALLBACK]: { GET: cb, POST: cb },
  };
}
