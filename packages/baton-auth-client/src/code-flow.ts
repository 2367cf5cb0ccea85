/**
 * The authorization code flow (RFC 6749 §4.1, as OAuth 2.1 and RFC 9700 §2.1 ask it) shared by the
 * SDK's two front ends, a web page's redirect (`redirect.ts`) and a CLI's loopback server
 * (`loopback.ts`): the request — PKCE S256 (RFC 7636), `state`, `nonce` with `openid`, `dpop_jkt`
 * of the client's DPoP key (RFC 9449 §10), pushed (RFC 9126) when the server requires it or the
 * caller asks — then the answer at the redirect URI checked (`state`, then `iss`, RFC 9207) before
 * anything is sent, the code exchanged with the verifier and a DPoP proof, the ID token's claims
 * checked, and the tokens handed to the client, whose refresh and `fetch` take over from there.
 *
 * Written by hand rather than with oauth4webapi: each step is a few lines over what the client
 * already has — its DPoP keeper (the key, the nonces, the server's clock), its token request with
 * the `use_dpop_nonce` retry, its https-or-loopback rule — which oauth4webapi would duplicate with
 * a DPoP handle and nonce cache of its own (and refuse a loopback http issuer without
 * `allowInsecureRequests`); measured with esbuild, its functions for these steps add 24 KB
 * minified (8 KB gzipped) to the 35 KB page bundle.
 */
import { boundedText, oauthDescription } from 'baton-auth/protocol';
import type { Endpoints } from './discovery.ts';
import { base64url, sha256 } from './dpop.ts';
import { AuthorizationError, BatonClientError, configError, TransientRefreshError } from './errors.ts';
import { idTokenClaims } from './id-token.ts';
import type { ClientParts } from './internals.ts';
import { requireSecure } from './origins.ts';
import { basicAuthorization } from './refresher.ts';
import { sameText } from './same-text.ts';
import { signInRequest } from './sign-in.ts';
import type { StoredTokens } from './types.ts';

/** What a code sign-in asks for. */
export interface CodeFlowOptions {
  /** Space-separated scopes, e.g. `openid offline_access`. With `openid`, a `nonce` is sent and the ID token checked. Default: none (the server's default). */
  scope?: string;
  /** The APIs the tokens are for (RFC 8707 `resource`, absolute URIs). */
  resource?: string | readonly string[];
  /** Push the request first (RFC 9126 PAR) even when the server's metadata does not require it. */
  par?: boolean;
  /** OpenID Connect's `prompt` (`login`, `consent`, `none`). */
  prompt?: string;
  /** OpenID Connect's `login_hint`: the username to fill in. */
  loginHint?: string;
  /** More authorization request parameters (`ui_locales`, …); the flow's own (`state`, `code_challenge`, …) cannot be replaced. */
  extraParams?: Record<string, string>;
}

/** A sign-in sent and not yet answered: what checking and redeeming its answer needs. */
export interface PendingSignIn {
  issuer: string;
  clientId: string;
  redirectUri: string;
  state: string;
  /** The PKCE verifier (RFC 7636 §4.1). */
  verifier: string;
  /** Sent with `openid`: the ID token must carry it. */
  nonce?: string;
  /** The thumbprint sent as `dpop_jkt`: the code is bound to that key. */
  jkt?: string;
  /** The server promised `iss` in every answer (RFC 9207 §3): one without is refused. */
  issInResponse: boolean;
}

/** What a code sign-in gives: the tokens as the client stored them, and with `openid` the ID token and its claims. */
export interface CodeSignIn {
  tokens: StoredTokens;
  idToken?: string;
  claims?: Record<string, unknown>;
}

/** The parameters this flow sets itself. */
const OWN = ['response_type', 'client_id', 'redirect_uri', 'state', 'nonce', 'code_challenge', 'code_challenge_method', 'dpop_jkt', 'scope', 'resource'];
const EXTRA_REFUSED = new Set([...OWN, 'request', 'request_uri', 'response_mode', 'prompt', 'login_hint']);

/** The longest PAR answer read (bytes): a `request_uri` and `expires_in`. */
const MAX_PAR_ANSWER = 16 * 1024;

/** 256 random bits, base64url: a `state`, a `nonce`, a PKCE verifier (43 characters, RFC 7636 §4.1). */
const random = (): string => base64url(crypto.getRandomValues(new Uint8Array(32)));

/** Throws `ERR_CONFIG` naming `fn` unless the options are as documented; called by each entry point before it does anything. */
export function checkFlowOptions(o: CodeFlowOptions, fn: string): void {
  for (const name of ['scope', 'prompt', 'loginHint'] as const)
    if (o[name] !== undefined && typeof o[name] !== 'string') throw configError(`${fn}: \`${name}\` must be a string.`);
  const resources = o.resource === undefined ? [] : typeof o.resource === 'string' ? [o.resource] : o.resource;
  if (!Array.isArray(resources) || !resources.every((r) => typeof r === 'string' && URL.canParse(r)))
    throw configError(`${fn}: \`resource\` must be an absolute URI or a list of them (RFC 8707).`);
  for (const name of Object.keys(o.extraParams ?? {}))
    if (EXTRA_REFUSED.has(name)) throw configError(`${fn}: \`extraParams\` may not set \`${name}\`; the flow sets it (or use its own option).`);
}

/** The authorization request's parameters, and the pending sign-in that will check its answer. */
async function requestParams(p: ClientParts, o: CodeFlowOptions & { redirectUri: string }, fn: string, endpoints: Endpoints) {
  const { issuer, clientId } = p.options;
  if (issuer === undefined || clientId === undefined)
    throw configError(`${fn} needs a client made with \`issuer\` (its metadata names the authorization endpoint) and \`clientId\`.`);
  const pending: PendingSignIn = {
    issuer,
    clientId,
    redirectUri: o.redirectUri,
    state: random(),
    verifier: random(),
    issInResponse: endpoints.issInResponse === true,
  };
  const params = new URLSearchParams({ response_type: 'code', client_id: clientId, redirect_uri: o.redirectUri, state: pending.state });
  params.set('code_challenge', await sha256(pending.verifier)); // S256 (RFC 7636 §4.2); `plain` never
  params.set('code_challenge_method', 'S256');
  if (o.scope !== undefined) params.set('scope', o.scope);
  if (o.scope?.split(' ').includes('openid')) params.set('nonce', (pending.nonce = random()));
  for (const r of typeof o.resource === 'string' ? [o.resource] : (o.resource ?? [])) params.append('resource', r);
  // RFC 9449 §10: the code is bound to this key; redeeming it needs a proof by the same key.
  const jkt = await p.dpop.thumbprint();
  if (jkt !== undefined) params.set('dpop_jkt', (pending.jkt = jkt));
  if (o.prompt !== undefined) params.set('prompt', o.prompt);
  if (o.loginHint !== undefined) params.set('login_hint', o.loginHint);
  for (const [name, value] of Object.entries(o.extraParams ?? {})) params.set(name, String(value));
  return { params, pending };
}

/**
 * The URL to send the browser to, and the pending sign-in to keep until the answer comes back.
 * Throws `ERR_CONFIG` (no issuer or client id, bad options), `ERR_DISCOVERY` (no authorization
 * endpoint, one not on https, PAR required with no PAR endpoint), `AuthorizationError` (PAR refused).
 */
export async function authorizationRequest(
  p: ClientParts,
  o: CodeFlowOptions & { redirectUri: string },
  fn: string,
): Promise<{ url: string; pending: PendingSignIn }> {
  const endpoints = await p.endpoints();
  if (endpoints.authorization === undefined)
    throw new BatonClientError(
      'ERR_DISCOVERY',
      `The metadata of ${p.options.issuer} names no authorization_endpoint: it does not offer the authorization code flow.`,
    );
  const url = requireSecure(endpoints.authorization, 'authorization endpoint');
  const { params, pending } = await requestParams(p, o, fn, endpoints);
  if (endpoints.requirePar !== true && o.par !== true) {
    for (const [name, value] of params) url.searchParams.append(name, value);
    return { url: url.href, pending };
  }
  // RFC 9126 §4: the authorization request then carries only the client id and the request URI.
  url.searchParams.set('client_id', pending.clientId);
  url.searchParams.set('request_uri', await pushRequest(p, endpoints, params));
  return { url: url.href, pending };
}

/** POSTs the request to the PAR endpoint (RFC 9126 §2.1); its `request_uri`. */
async function pushRequest(p: ClientParts, endpoints: Endpoints, params: URLSearchParams): Promise<string> {
  if (endpoints.par === undefined)
    throw new BatonClientError(
      'ERR_DISCOVERY',
      "PAR is asked (the `par` option or the server's require_pushed_authorization_requests) and the metadata names no pushed_authorization_request_endpoint.",
    );
  const endpoint = requireSecure(endpoints.par, 'pushed authorization request endpoint').href;
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  const secret = p.options.clientAuthentication?.secret;
  if (secret !== undefined) headers.authorization = basicAuthorization(p.options.clientId as string, secret);
  let res: Response;
  try {
    res = await p.fetch(endpoint, { method: 'POST', headers, body: params, redirect: 'manual' });
  } catch (err) {
    throw new TransientRefreshError(`The PAR endpoint could not be reached: ${(err as Error).message}`, { cause: err });
  }
  const text = await boundedText(res.body, MAX_PAR_ANSWER, res.headers.get('content-length')).catch(() => undefined);
  let json: { request_uri?: unknown; error?: unknown; error_description?: unknown } | undefined;
  try {
    json = JSON.parse(text ?? '') as typeof json;
  } catch {
    json = undefined;
  }
  if (res.status === 201 && typeof json?.request_uri === 'string') return json.request_uri;
  if (typeof json?.error !== 'string') throw new TransientRefreshError(`The PAR endpoint answered ${res.status} without a request_uri or an OAuth error`);
  const description = typeof json.error_description === 'string' ? oauthDescription(json.error_description.slice(0, 500)) : undefined;
  throw new AuthorizationError(`The PAR endpoint refused the request (HTTP ${res.status}, ${json.error})${description ? `: ${description}` : ''}`, {
    error: json.error,
    errorDescription: description,
  });
}

/** One parameter of the answer: undefined when absent, null when repeated (RFC 6749 §3.1: never more than once). */
function one(query: URLSearchParams, name: string): string | undefined | null {
  const all = query.getAll(name);
  return all.length === 0 ? undefined : all.length === 1 ? (all[0] as string) : null;
}

/** Whether the answer's `state` is the pending sign-in's (compared in constant time). */
export function stateMatches(query: URLSearchParams, pending: PendingSignIn): boolean {
  const state = one(query, 'state');
  return typeof state === 'string' && sameText(state, pending.state);
}

/** The refusal of an answer to another request than the pending one (`ERR_STATE_MISMATCH`). */
export function stateMismatch(): BatonClientError {
  return new BatonClientError(
    'ERR_STATE_MISMATCH',
    'The answer at the redirect URI is not the one this sign-in waits for (its state differs): nothing was sent. Sign in again.',
  );
}

/**
 * The code of the answer at the redirect URI, checked before anything is sent: `state` first
 * (RFC 6749 §10.12: an answer to another request is a forgery), then `iss` (RFC 9207 §2.4: equal
 * to the issuer, or absent only where the server never promised it), then `error` (RFC 6749
 * §4.1.2.1) as an `AuthorizationError`.
 */
export function codeOf(query: URLSearchParams, pending: PendingSignIn): string {
  if (!stateMatches(query, pending)) throw stateMismatch();
  const iss = one(query, 'iss');
  if (iss === null || (iss === undefined ? pending.issInResponse : iss !== pending.issuer)) {
    const said =
      iss === undefined
        ? 'names no issuer, though the server promises one (RFC 9207)'
        : `names the issuer ${JSON.stringify(String(iss).slice(0, 200))}, not ${pending.issuer} (RFC 9207)`;
    throw new BatonClientError('ERR_ISSUER_MISMATCH', `The answer at the redirect URI ${said}: nothing was sent. Sign in again.`);
  }
  const error = one(query, 'error');
  if (error !== undefined) {
    const description = one(query, 'error_description');
    const text = typeof description === 'string' ? oauthDescription(description.slice(0, 500)) : undefined;
    const code = typeof error === 'string' ? oauthDescription(error.slice(0, 100)) : undefined;
    throw new AuthorizationError(`The authorization server refused the sign-in: ${code ?? 'an error'}${text ? ` (${text})` : ''}`, {
      error: code,
      errorDescription: text,
    });
  }
  const code = one(query, 'code');
  if (typeof code !== 'string' || code === '') throw new AuthorizationError('The answer at the redirect URI carries neither one code nor an error.');
  return code;
}

/**
 * Redeems `code` at the token endpoint (RFC 6749 §4.1.3: the same `redirect_uri`, the PKCE
 * verifier; a DPoP proof by the key the code is bound to), checks the ID token with `openid`, and
 * stores the tokens in the client. `signal` aborts the request. Throws `SignInError` when the token
 * endpoint refuses (`invalid_grant`: the code expired, was used, or the verifier or key differ).
 */
export async function redeemCode(p: ClientParts, pending: PendingSignIn, code: string, signal?: AbortSignal): Promise<CodeSignIn> {
  const endpoints = await p.endpoints();
  const dpop = await p.dpop.forTokenRequests(pending.jkt !== undefined);
  if (pending.jkt !== undefined && (await p.dpop.thumbprint()) !== pending.jkt)
    throw new BatonClientError(
      'ERR_DPOP_KEY_MISSING',
      "The code is bound to a DPoP key this client no longer holds (a key kept in one tab's memory, a cleared storage): sign in again.",
    );
  const fetcher: typeof fetch = signal === undefined ? p.fetch : (input, init) => p.fetch(input, { ...init, signal });
  const answer = await signInRequest({
    endpoint: endpoints.token,
    fields: { grant_type: 'authorization_code', code, redirect_uri: pending.redirectUri, code_verifier: pending.verifier },
    clientId: pending.clientId,
    clientSecret: p.options.clientAuthentication?.secret,
    cookie: p.options.mode === 'cookie',
    fetch: fetcher,
    now: p.now,
    dpop,
  });
  p.dpop.noteServerDate(answer.serverDate, answer.receivedAt);
  const idToken = (answer.response as { id_token?: unknown }).id_token;
  // With openid, checked before the tokens are kept (OpenID Connect Core §3.1.3.7).
  const claims =
    pending.nonce === undefined
      ? undefined
      : idTokenClaims(idToken, { issuer: pending.issuer, clientId: pending.clientId, nonce: pending.nonce, now: p.now() });
  const tokens = await p.setTokens(answer.response, answer.receivedAt);
  return claims === undefined ? { tokens } : { tokens, idToken: idToken as string, claims };
}
