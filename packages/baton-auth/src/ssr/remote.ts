/**
 * Remote mode: the app is a client of the standalone service at `issuer` — sign-in at
 * `/auth/login`, the refresh grant at `/oauth/token` (RFC 6749 §6), revocation at `/oauth/revoke`
 * (RFC 7009) — and verifies its tokens locally with `remoteIssuer` (the JWKS, and the revocation
 * feed when given the introspection credentials, so a session revoked at the service is refused
 * here within a second).
 */
import { isIP } from 'node:net';
import type { TokenPair } from '../core/baton.ts';
import { BatonConfigError, BatonError } from '../core/errors.ts';
import { isSecureUrl } from '../protocol/origin.ts';
import { remoteIssuer } from '../remote/issuer.ts';
import { serverProofs } from './dpop.ts';
import type { ServerProofs } from './dpop.ts';
import type { Backend, RemoteSessionOptions } from './types.ts';
import { callSlots, errorOf, MAX_CALLS_IN_FLIGHT, MAX_REFRESH_TOKEN, postForm, tokenPairOf } from './wire.ts';
import type { Answer } from './wire.ts';

/** `client_secret_basic` (RFC 6749 §2.3.1): id and secret form-encoded, then Basic. */
function basic(id: string, secret: string): string {
  const form = (v: string) => encodeURIComponent(v).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${form(id)}:${form(secret)}`).toString('base64')}`;
}

function checked(o: RemoteSessionOptions): { issuer: string; timeoutMs: number } {
  if (typeof o.issuer !== 'string' || !URL.canParse(o.issuer))
    throw new BatonConfigError('createServerSession needs `issuer`: the token service URL (BATON_ISSUER).');
  if (!isSecureUrl(new URL(o.issuer))) throw new BatonConfigError(`The issuer ${o.issuer} is not https (plain http is allowed on loopback only).`);
  if (typeof o.clientId !== 'string' || o.clientId === '')
    throw new BatonConfigError('createServerSession needs `clientId`: the OAuth client this app signs in as.');
  const timeoutMs = o.timeoutMs ?? 5000;
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 100 || timeoutMs > 60_000)
    throw new BatonConfigError('timeoutMs must be a whole number of ms between 100 and 60000.');
  return { issuer: o.issuer.replace(/\/+$/, ''), timeoutMs };
}

/**
 * `remoteIssuer`'s requests (discovery, the JWKS, introspection) within `timeoutMs` too, so that a
 * service that hangs makes a render `unavailable` instead of hanging it; the revocation feed's
 * stream is long-lived by design and has its own idle limit.
 */
function bounded(fetcher: typeof fetch, timeoutMs: number): typeof fetch {
  return (input, init) => {
    if (new Headers(init?.headers).get('accept') === 'text/event-stream') return fetcher(input, init);
    const timeout = AbortSignal.timeout(timeoutMs);
    return fetcher(input, { ...init, signal: init?.signal ? AbortSignal.any([init.signal, timeout]) : timeout });
  };
}

/**
 * The proofs `verify` checks are made here, one per check, and never leave the process: nothing can
 * replay them (RFC 9449 §11.1), so none is spent — a ledger of every render's proof (5 min each,
 * bounded, then 503s) would let page views alone make every user `unavailable`.
 */
const OWN_PROOFS = { dpop: { ledger: { consumeJti: async () => true } } };

/** A form to the service with this app's client authentication (RFC 6749 §2.3). */
function clientForm(o: RemoteSessionOptions, fields: Record<string, string>): { body: URLSearchParams; headers: Record<string, string> } {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  const body = new URLSearchParams(fields);
  if (o.clientSecret !== undefined) headers.authorization = basic(o.clientId, o.clientSecret);
  else body.set('client_id', o.clientId);
  return { body, headers };
}

/** The backend of remote mode. */
export function remoteBackend(o: RemoteSessionOptions): Backend {
  const { issuer, timeoutMs } = checked(o);
  const fetcher = o.fetch ?? ((...args: Parameters<typeof fetch>) => fetch(...args));
  const inTurn = callSlots(MAX_CALLS_IN_FLIGHT, timeoutMs);
  const proofs: ServerProofs | undefined = o.dpop === undefined ? undefined : serverProofs(o.dpop);
  const verifier = remoteIssuer({
    issuer: o.issuer,
    audience: o.audience ?? o.issuer,
    fetch: bounded(fetcher, timeoutMs),
    ...(o.introspection === undefined ? {} : { introspection: o.introspection }),
    ...(proofs === undefined ? {} : OWN_PROOFS),
  });
  // One call, with a DPoP proof when bound; a `use_dpop_nonce` answer (RFC 9449 §8) gets the same call once more with its nonce.
  const call = async (path: string, fields: Record<string, string>, extra: Record<string, string> = {}): Promise<Answer> => {
    const url = `${issuer}${path}`;
    const { body, headers: base } = clientForm(o, fields);
    const headers = { ...base, ...extra };
    const send = async () => {
      const h = proofs === undefined ? headers : { ...headers, dpop: await proofs.proof('POST', url) };
      const answer = await postForm(fetcher, url, body, h, timeoutMs);
      proofs?.noteNonce(answer.headers);
      return answer;
    };
    return inTurn(async () => {
      const first = await send();
      const askedNonce = proofs !== undefined && first.status === 400 && (first.json as { error?: unknown } | undefined)?.error === 'use_dpop_nonce';
      return askedNonce ? send() : first;
    });
  };
  const pair = async (path: string, fields: Record<string, string>, login: boolean, extra?: Record<string, string>): Promise<TokenPair> => {
    const answer = await call(path, fields, extra);
    if (answer.status !== 200) throw errorOf(answer, login);
    return tokenPairOf(answer.json);
  };
  return {
    async verify(token) {
      if (proofs === undefined) return verifier.verify(token);
      // A bound token is checked as a resource server would (RFC 9449 §7): with a proof by the server's key.
      const url = `${issuer}/.well-known/baton-ssr`;
      return verifier.verify(token, { dpop: { proof: await proofs.proof('GET', url, token), method: 'GET', url } });
    },
    // The user's address, for the service's login protection: it believes it only from the proxies BATON_TRUST_PROXY names (this app's server).
    login: (username, password, ip) => pair('/auth/login', { username, password }, true, ip !== undefined && isIP(ip) !== 0 ? { 'x-forwarded-for': ip } : {}),
    // A cookie longer than any refresh token the service's answer may carry is none it gave: refused here, without a call.
    refresh: (refreshToken) =>
      refreshToken.length > MAX_REFRESH_TOKEN
        ? Promise.reject(new BatonError('ERR_REFRESH_INVALID', `the refresh cookie is longer than ${MAX_REFRESH_TOKEN} characters: not a refresh token`))
        : pair('/oauth/token', { grant_type: 'refresh_token', refresh_token: refreshToken }, false),
    async revoke(refreshToken) {
      const answer = await call('/oauth/revoke', { token: refreshToken, token_type_hint: 'refresh_token' });
      // RFC 7009 §2.2: 200 whether or not the token was valid; anything else is the service's trouble.
      if (answer.status !== 200) throw errorOf(answer);
    },
    close: () => verifier.close(),
  };
}
