/**
 * Calls to the standalone service, bounded: each within a timeout (`AbortSignal.timeout`, the
 * body included), no redirect followed, an answer of at most 64 KiB; every answer checked before it
 * is used. What the service said is turned into a `BatonError` of the library's table: only its
 * `invalid_grant` ends a session; the service away, slow, failing or answering nonsense keeps it.
 */
import type { TokenPair } from '../core/baton.ts';
import { BatonError } from '../core/errors.ts';
import type { SessionEnd } from '../core/errors.ts';
import { boundedText } from '../protocol/bounded-text.ts';

/** The largest answer read from the service. */
export const MAX_ANSWER_BYTES = 64 * 1024;
/** The longest refresh token taken from the service's answer: a refresh cookie longer than it is none of ours. */
export const MAX_REFRESH_TOKEN = 4096;
const REASON = /^[a-z][a-z0-9_]{0,39}$/;

/** The service's answer, read within the bounds. */
export interface Answer {
  status: number;
  headers: Headers;
  json: unknown;
}

const away = (what: string, cause?: unknown) => new BatonError('ERR_STORE_UNAVAILABLE', `the token service ${what}`, cause === undefined ? {} : { cause });

/** The body as text, refusing one past `max` bytes (the stream cancelled there, never buffered whole). */
async function readCapped(res: Response, max: number): Promise<string> {
  const text = await boundedText(res.body, max);
  if (text === undefined) throw away(`answered more than ${max} bytes`);
  return text;
}

/** Calls to the service in flight at once from this app at most: below the service's connections per address (`BATON_MAX_CONNECTIONS_PER_ADDRESS`, 125 by default), which every user of the app shares. */
export const MAX_CALLS_IN_FLIGHT = 32;

/**
 * At most `max` calls at once; the others wait their turn, each for `timeoutMs` at most (then the
 * service is away: `unavailable`, the session kept). A flood of junk refresh cookies then costs a
 * bounded number of sockets, and never passes the service's cap for this app's address, where the
 * service would reset every user's calls.
 */
export function callSlots(max: number, timeoutMs: number): <T>(fn: () => Promise<T>) => Promise<T> {
  let busy = 0;
  const waiting = new Set<() => void>();
  const release = () => {
    const next = waiting.values().next();
    if (next.done === true) busy--;
    else {
      waiting.delete(next.value);
      next.value();
    }
  };
  const turn = () =>
    new Promise<void>((resolve, reject) => {
      const go = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        waiting.delete(go);
        reject(away(`is busy: ${max} calls of this app are in flight and this one waited ${timeoutMs} ms`));
      }, timeoutMs);
      waiting.add(go);
    });
  return async (fn) => {
    if (busy < max) busy++;
    else await turn();
    try {
      return await fn();
    } finally {
      release();
    }
  };
}

/** POSTs a form to the service within `timeoutMs`; the network failing, the timeout, a redirect or an oversized body are the service away. */
export async function postForm(fetcher: typeof fetch, url: string, body: URLSearchParams, headers: Record<string, string>, timeoutMs: number): Promise<Answer> {
  let res: Response;
  let text: string;
  try {
    res = await fetcher(url, { method: 'POST', headers, body, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
    text = await readCapped(res, MAX_ANSWER_BYTES);
  } catch (err) {
    if (err instanceof BatonError) throw err;
    throw away(`at ${new URL(url).origin} did not answer within ${timeoutMs} ms`, err);
  }
  if (res.status >= 300 && res.status < 400) throw away(`answered a redirect (${res.status})`);
  let json: unknown;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, json };
}

const isInt = (v: unknown, min: number, max: number): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max;
/** RFC 6265 §4.1.1 cookie-octets: what a token must be made of to be written as a cookie as it is (no `;`, `,`, `"`, `\`, space, control, non-ASCII). */
const COOKIE_OCTETS = /^[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]+$/;
const isText = (v: unknown, max: number): v is string => typeof v === 'string' && v.length > 0 && v.length <= max && COOKIE_OCTETS.test(v);

/** A token answer (RFC 6749 §5.1), strictly: anything missing or out of shape is the service failing, never a session. */
export function tokenPairOf(json: unknown): TokenPair {
  const b = (typeof json === 'object' && json !== null ? json : {}) as Record<string, unknown>;
  const type = typeof b.token_type === 'string' ? b.token_type.toLowerCase() : '';
  const ok =
    isText(b.access_token, 16_384) &&
    isText(b.refresh_token, MAX_REFRESH_TOKEN) &&
    (type === 'bearer' || type === 'dpop') &&
    isInt(b.expires_in, 1, 31_536_000) &&
    (b.refresh_expires_in === undefined || isInt(b.refresh_expires_in, 1, 31_536_000 * 10)) &&
    (b.scope === undefined || (typeof b.scope === 'string' && b.scope.length <= 4096)) &&
    (b.session_id === undefined || isText(b.session_id, 256));
  if (!ok) throw away('answered a token response that is not one (RFC 6749 §5.1)');
  return {
    access_token: b.access_token as string,
    token_type: type === 'dpop' ? 'DPoP' : 'Bearer',
    expires_in: b.expires_in as number,
    refresh_token: b.refresh_token as string,
    // Without the refresh token's life, the cookie lives as a session cookie would: a day at most.
    refresh_expires_in: (b.refresh_expires_in as number | undefined) ?? 86_400,
    ...(b.scope === undefined ? {} : { scope: b.scope as string }),
    session_id: (b.session_id as string | undefined) ?? '',
  };
}

/** The `session_end` member of an `invalid_grant` answer, checked: a reason in our words and a time, or nothing. */
function sessionEndOf(member: unknown): SessionEnd | undefined {
  if (typeof member !== 'object' || member === null) return undefined;
  const m = member as Record<string, unknown>;
  if (typeof m.reason !== 'string' || !REASON.test(m.reason)) return undefined;
  return { reason: m.reason, at: isInt(m.at, 0, Number.MAX_SAFE_INTEGER) ? m.at : 0 };
}

/** The service's error answer (RFC 6749 §5.2) as the library's error. `login` says whether it answered a sign-in. */
export function errorOf(answer: Answer, login = false): BatonError {
  const body = (typeof answer.json === 'object' && answer.json !== null ? answer.json : {}) as Record<string, unknown>;
  const error = typeof body.error === 'string' ? body.error : undefined;
  const retry = Number(answer.headers.get('retry-after') ?? '1');
  const retryAfterMs = Number.isFinite(retry) && retry >= 0 ? Math.min(retry, 3600) * 1000 : 1000;
  if (answer.status === 429 || error === 'slow_down') return new BatonError('ERR_RATE_LIMITED', 'the token service asks to slow down', { retryAfterMs });
  if (answer.status >= 500 || error === undefined || error === 'temporarily_unavailable') return away(`answered ${answer.status}`);
  switch (error) {
    case 'invalid_grant': {
      if (login) return new BatonError('ERR_LOGIN_FAILED', 'Wrong username or password', { public: true });
      const end = sessionEndOf(body.session_end);
      return end === undefined
        ? new BatonError('ERR_REFRESH_INVALID', 'the service does not know the refresh token')
        : new BatonError('ERR_SESSION_ENDED', 'the service ended the session', { sessionEnd: end });
    }
    case 'invalid_client':
      return new BatonError('ERR_CLIENT_INVALID', "the token service refused this app's client credentials");
    case 'unauthorized_client':
      return new BatonError('ERR_CLIENT_UNAUTHORIZED', 'the token service does not let this app use the grant');
    case 'use_dpop_nonce':
      return new BatonError('ERR_DPOP_NONCE', 'the token service asks for a DPoP nonce');
    case 'invalid_dpop_proof':
      return new BatonError('ERR_DPOP_INVALID', "the token service refused this server's DPoP proof");
    default:
      return new BatonError('ERR_INVALID_REQUEST', `the token service refused the request (${error.slice(0, 40)})`);
  }
}
