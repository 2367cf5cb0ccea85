/**
 * The refresh grant (RFC 6749 §6) on the wire, and what its answer means. Only the server saying
 * the session is over ends it:
 * - `invalid_grant` → `ended`, with the server's `session_end` when it gave one;
 * - `invalid_client`, `unauthorized_client`, any other OAuth error, a redirect → `ERR_CLIENT_REJECTED`
 *   (the configuration is wrong; nothing is retried, the tokens are kept);
 * - network errors, 429, 5xx and bodies that are not an OAuth error (a proxy's HTML 400, a 404)
 *   → transient: a capped, jittered backoff honouring `Retry-After`, then `TransientRefreshError`.
 */
import { BatonClientError, TransientRefreshError } from './errors.ts';
import { isRedirect } from './discovery.ts';
import type { SessionEndInfo, TokenClientOptions, TokenResponse } from './types.ts';

/** What the token endpoint answered: tokens (with its `Date`, for the clock offset), or the end of the session. */
export type GrantResult =
  | { ok: true; response: TokenResponse; receivedAt: number; serverDate: number | undefined }
  | { ok: false; end: SessionEndInfo };

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
}

/** `client_secret_basic` (RFC 6749 §2.3.1): id and secret form-encoded, then Basic. */
export function basicAuthorization(clientId: string, secret: string): string {
  const form = (v: string) => encodeURIComponent(v).replace(/%20/g, '+');
  return `Basic ${btoa(`${form(clientId)}:${form(secret)}`)}`;
}

/** The form and headers of a request a client authenticates (refresh, revocation). */
export function clientRequest(fields: Record<string, string>, clientId: string | undefined, clientSecret: string | undefined): { body: URLSearchParams; headers: Record<string, string> } {
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
  session_end?: { reason?: unknown; at?: unknown; by?: { session_id?: unknown; device?: Record<string, unknown> }; generation?: unknown; retired_at?: unknown; ip?: unknown };
}

/** The `sessionExpired` payload of an `invalid_grant` body. */
function endOf(body: OAuthErrorBody): SessionEndInfo {
  const e = body.session_end;
  if (e === undefined || typeof e.reason !== 'string') return { reason: 'invalid_grant' };
  const out: SessionEndInfo = { reason: e.reason };
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
    let res: Response;
    try {
      res = await r.fetch(r.endpoint, { method: 'POST', headers, body, redirect: 'manual', ...(r.cookie ? { credentials: 'include' as const } : {}) });
    } catch (err) {
      lastError = new TransientRefreshError(`The token endpoint could not be reached: ${(err as Error).message}`, { cause: err });
      continue;
    }
    const receivedAt = r.now();
    if (isRedirect(res)) throw new BatonClientError('ERR_CLIENT_REJECTED', `The token endpoint ${r.endpoint} redirects (HTTP ${res.status}); refresh tokens are never sent after a redirect.`);
    const text = await res.text().catch(() => '');
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (res.ok && typeof (json as TokenResponse | undefined)?.access_token === 'string') {
      const date = Date.parse(res.headers.get('date') ?? '');
      return { ok: true, response: json as TokenResponse, receivedAt, serverDate: Number.isNaN(date) ? undefined : date };
    }
    const error = (json as OAuthErrorBody | undefined)?.error;
    if (res.status === 429 || res.status >= 500 || res.ok || typeof error !== 'string') {
      // Not the authorization server's word on this token: a proxy's page, an outage, a rate limit.
      lastError = new TransientRefreshError(`The token endpoint answered ${res.status}${typeof error === 'string' ? ` (${error})` : res.ok ? ' without tokens' : ' without an OAuth error'}`);
      wait = retryAfterMs(res.headers.get('retry-after'), r.now());
      // Never parked behind a long Retry-After: past the cap, give up now and say when to come back.
      if (wait !== undefined && wait > (r.retry?.maxRetryAfterMs ?? MAX_RETRY_AFTER_MS)) throw new TransientRefreshError(`${lastError.message}; it asks to wait ${Math.ceil(wait / 1000)} s`, { retryAfterMs: wait });
      continue;
    }
    if (error === 'invalid_grant') return { ok: false, end: endOf(json as OAuthErrorBody) };
    const description = (json as OAuthErrorBody).error_description;
    throw new BatonClientError('ERR_CLIENT_REJECTED', `The token endpoint refused this client: ${error}${typeof description === 'string' ? ` (${description})` : ''}. Check the client's configuration; the session is kept.`);
  }
  throw lastError;
}

async function backoff(attempt: number, retryAfter: number | undefined, r: GrantRequest): Promise<void> {
  const base = r.retry?.baseMs ?? 250;
  const max = r.retry?.maxMs ?? 5000;
  const delay = Math.max(retryAfter ?? 0, Math.random() * Math.min(max, base * 2 ** attempt));
  await new Promise((resolve) => setTimeout(resolve, delay));
}
