/**
 * The refresh grant (RFC 6749 §6) on the wire, and what its answer means. Only the server saying
 * the session is over ends it:
 * - `invalid_grant` → `ended`, with the server's `session_end` when it gave one;
 * - `invalid_client`, `unauthorized_client`, any other OAuth error, a redirect → `ERR_CLIENT_REJECTED`
 *   (the configuration is wrong; nothing is retried, the tokens are kept);
 * - network errors, 429, 5xx and bodies that are not an OAuth error (a proxy's HTML 400, a 404)
 *   → transient: a capped, jittered backoff honouring `Retry-After`, then `TransientRefreshError`.
 *
 * With DPoP (RFC 9449 §5) each request carries a fresh proof, and a server that answers
 * `use_dpop_nonce` (§8) gets the same request once more, signed with the nonce it gave.
 */
import { BatonClientError, TransientRefreshError } from './errors.ts';
import { isRedirect } from './discovery.ts';
import type { SessionEnd, TokenClientOptions, TokenResponse } from './types.ts';

/** What the token endpoint answered: tokens (with its `Date`, for the clock offset), or the end of the session. */
export type GrantResult = { ok: true; response: TokenResponse; receivedAt: number; serverDate: number | undefined } | { ok: false; end: SessionEnd };

/** One refresh: where, with what, and how to retry. */
export interface GrantRequest {
  endpoint: string;
  /** Absent in cookie mode: the browser sends the HttpOnly cookie. */
  refreshToken: string | undefined;
  clientId: string | undefined;
  clientSecret: string | undefined;
  cookie: boolean;
  retry: TokenClientOptions['retry'];
  fetch: typeof fetch;
  now: () => number;
  /** Set when the client uses DPoP. */
  dpop: TokenProofs | undefined;
}

/** The DPoP side of token requests, as the client's `DpopKeeper` gives it (`forTokenRequests`). */
export interface TokenProofs {
  /** A fresh proof for a POST to `url`, with the nonce its origin gave last (RFC 9449 §4.2, §8). */
  proof(url: string): Promise<string>;
  /** Keeps an answer's `DPoP-Nonce` for the next proof to its origin. */
  noteResponse(url: string, response: Response): void;
  /**
   * Hears the `Date` of a `use_dpop_nonce` answer (ms on the server's clock, and when it arrived
   * on this one), so that the proof sent again has an `iat` on the server's clock even on a device
   * whose clock is off.
   */
  noteServerDate(serverDate: number, receivedAt: number): void;
}

/** A token endpoint's answer, read. */
export interface TokenAnswer {
  res: Response;
  text: string;
  /** The body as JSON, or undefined when it is not. */
  json: unknown;
}

/**
 * POSTs a form to a token endpoint (the refresh grant, a sign-in) without following redirects.
 * With DPoP: a fresh proof in the `DPoP` header; the answer's `DPoP-Nonce` is remembered for the
 * next proof; a `use_dpop_nonce` answer (RFC 9449 §8) is followed by exactly one more request
 * signed with the nonce it gave. Network errors are thrown as they are.
 */
export async function postToken(
  fetcher: typeof fetch,
  endpoint: string,
  body: URLSearchParams,
  headers: Record<string, string>,
  options: { cookie: boolean; dpop: TokenProofs | undefined; now: () => number },
): Promise<TokenAnswer> {
  const now = options.now;
  const send = async (): Promise<TokenAnswer> => {
    const h = { ...headers };
    if (options.dpop !== undefined) h.dpop = await options.dpop.proof(endpoint);
    const res = await fetcher(endpoint, {
      method: 'POST',
      headers: h,
      body,
      redirect: 'manual',
      ...(options.cookie ? { credentials: 'include' as const } : {}),
    });
    options.dpop?.noteResponse(endpoint, res);
    const text = await res.text().catch(() => '');
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { res, text, json };
  };
  const first = await send();
  const asksNonce =
    options.dpop !== undefined &&
    first.res.status === 400 &&
    first.res.headers.has('dpop-nonce') &&
    (first.json as OAuthErrorBody | undefined)?.error === 'use_dpop_nonce';
  if (!asksNonce) return first;
  // The proof sent again must carry an iat on the server's clock: a use_dpop_nonce answer is its
  // word on our proof (other answers' Date is not listened to here, and successes go through
  // the client's own check).
  const date = Date.parse(first.res.headers.get('date') ?? '');
  if (!Number.isNaN(date)) options.dpop?.noteServerDate(date, now());
  return send();
}

/** `client_secret_basic` (RFC 6749 §2.3.1): id and secret form-encoded, then Basic. */
export function basicAuthorization(clientId: string, secret: string): string {
  const form = (v: string) => encodeURIComponent(v).replace(/%20/g, '+');
  return `Basic ${btoa(`${form(clientId)}:${form(secret)}`)}`;
}

/** The form and headers of a request a client authenticates (refresh, revocation). */
export function clientRequest(
  fields: Record<string, string>,
  clientId: string | undefined,
  clientSecret: string | undefined,
): { body: URLSearchParams; headers: Record<string, string> } {
  const body = new URLSearchParams(fields);
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  if (clientId !== undefined && clientSecret !== undefined) headers.authorization = basicAuthorization(clientId, clientSecret);
  else if (clientId !== undefined) body.set('client_id', clientId);
  return { body, headers };
}

/** `Retry-After` (RFC 9110 §10.2.3) in ms from now: delay-seconds or an HTTP date. */
export function retryAfterMs(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

interface OAuthErrorBody {
  error?: unknown;
  error_description?: unknown;
  session_end?: {
    reason?: unknown;
    at?: unknown;
    by?: { session_id?: unknown; device?: Record<string, unknown> };
    generation?: unknown;
    retired_at?: unknown;
    ip?: unknown;
  };
}

/** The `sessionEnded` payload of an `invalid_grant` body. */
function endOf(body: OAuthErrorBody): SessionEnd {
  const e = body.session_end;
  if (e === undefined || typeof e.reason !== 'string') return { reason: 'invalid_grant' };
  const out: SessionEnd = { reason: e.reason };
  if (typeof e.at === 'number') out.at = e.at;
  if (typeof e.by?.session_id === 'string') out.by = e.by.session_id;
  const device = e.by?.device;
  if (device !== null && typeof device === 'object') {
    out.device = {};
    for (const k of ['name', 'userAgent', 'ip'] as const) if (typeof device[k] === 'string') out.device[k] = device[k];
  }
  if (typeof e.generation === 'number') out.generation = e.generation;
  if (typeof e.retired_at === 'number') out.retiredAt = e.retired_at;
  if (typeof e.ip === 'string') out.ip = e.ip;
  return out;
}

/** The longest `Retry-After` a refresh waits out; a longer one fails the refresh at once. */
const MAX_RETRY_AFTER_MS = 30_000;

/** Sends the refresh grant until it is answered, at most `retry.attempts` times (default 5). */
export async function refreshGrant(r: GrantRequest): Promise<GrantResult> {
  const attempts = r.retry?.attempts ?? 5;
  let wait: number | undefined;
  let lastError = new TransientRefreshError('The token endpoint did not answer');
  for (let attempt = 0; attempt < attempts; attempt++) {
    if (attempt > 0) await backoff(attempt, wait, r);
    wait = undefined;
    const fields: Record<string, string> = { grant_type: 'refresh_token' };
    if (r.refreshToken !== undefined) fields.refresh_token = r.refreshToken;
    const { body, headers } = clientRequest(fields, r.clientId, r.clientSecret);
    let answer: TokenAnswer;
    try {
      answer = await postToken(r.fetch, r.endpoint, body, headers, { cookie: r.cookie, dpop: r.dpop, now: r.now });
    } catch (err) {
      lastError = new TransientRefreshError(`The token endpoint could not be reached: ${(err as Error).message}`, { cause: err });
      continue;
    }
    const { res, json } = answer;
    const receivedAt = r.now();
    if (isRedirect(res))
      throw new BatonClientError(
        'ERR_CLIENT_REJECTED',
        `The token endpoint ${r.endpoint} redirects (HTTP ${res.status}); refresh tokens are never sent after a redirect.`,
      );
    if (res.ok && typeof (json as TokenResponse | undefined)?.access_token === 'string') {
      const date = Date.parse(res.headers.get('date') ?? '');
      return { ok: true, response: json as TokenResponse, receivedAt, serverDate: Number.isNaN(date) ? undefined : date };
    }
    const error = (json as OAuthErrorBody | undefined)?.error;
    if (res.status === 429 || res.status >= 500 || res.ok || typeof error !== 'string') {
      // Not the authorization server's word on this token: a proxy's page, an outage, a rate limit.
      lastError = new TransientRefreshError(
        `The token endpoint answered ${res.status}${typeof error === 'string' ? ` (${error})` : res.ok ? ' without tokens' : ' without an OAuth error'}`,
      );
      wait = retryAfterMs(res.headers.get('retry-after'), r.now());
      // Never parked behind a long Retry-After: past the cap, give up now and say when to come back.
      if (wait !== undefined && wait > (r.retry?.maxRetryAfterMs ?? MAX_RETRY_AFTER_MS))
        throw new TransientRefreshError(`${lastError.message}; it asks to wait ${Math.ceil(wait / 1000)} s`, { retryAfterMs: wait });
      continue;
    }
    if (error === 'invalid_grant') return { ok: false, end: endOf(json as OAuthErrorBody) };
    const description = (json as OAuthErrorBody).error_description;
    throw new BatonClientError(
      'ERR_CLIENT_REJECTED',
      `The token endpoint refused this client: ${error}${typeof description === 'string' ? ` (${description})` : ''}. Check the client's configuration; the session is kept.`,
    );
  }
  throw lastError;
}

async function backoff(attempt: number, retryAfter: number | undefined, r: GrantRequest): Promise<void> {
  const base = r.retry?.baseMs ?? 250;
  const max = r.retry?.maxMs ?? 5000;
  const delay = Math.max(retryAfter ?? 0, Math.random() * Math.min(max, base * 2 ** attempt));
  await new Promise((resolve) => setTimeout(resolve, delay));
}
