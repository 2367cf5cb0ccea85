/**
 * The authorization request (RFC 6749 §4.1.1, OAuth 2.1 §4.1.1, RFC 9700), checked in the order
 * that decides where an error may go: the client and its redirect URI first — either wrong is an
 * error *page* (RFC 6749 §4.1.2.1: never a redirect to an unverified URI) — then everything else,
 * whose errors redirect to that URI with `error`, `state` and `iss` (RFC 9207).
 */
import { isBatonError } from '../core/errors.ts';
import { outside, parseScope } from '../core/scope.ts';
import type { ClientRecord } from '../http/clients.ts';
import type { HandlerContext } from '../http/context.ts';
import { grantedResources } from '../http/grant.ts';
import { checkChallenge } from './pkce.ts';
import { matchRedirectUri } from './redirect-uri.ts';

/** A checked authorization request: what the transaction, a PAR and the code carry. */
export interface AuthzRequest {
  clientId: string;
  redirectUri: string;
  state?: string;
  /** The scope asked for, as sent (checked against the client's list); absent: none named. */
  scope?: string;
  resource: string[];
  codeChallenge: string;
  nonce?: string;
  prompt: ('none' | 'login' | 'consent')[];
  /** OIDC `max_age`, seconds. */
  maxAge?: number;
  /** RFC 9449 §10: the DPoP key the code is bound to. */
  dpopJkt?: string;
  /** Whether it came through PAR (RFC 9126). */
  pushed?: boolean;
}

/** An error shown as a page (400): the client or its redirect URI could not be trusted. */
export class AuthzPageError extends Error {
  readonly status: number;
  readonly description: string;
  constructor(status: number, description: string) {
    super(description);
    this.status = status;
    this.description = description;
  }
}

/** An error redirected to the client's (verified) redirect URI (RFC 6749 §4.1.2.1). */
export class AuthzRedirectError extends Error {
  readonly redirectUri: string;
  readonly state: string | undefined;
  readonly error: string;
  readonly description: string;
  /** The client whose redirect URI it is. */
  readonly clientId: string;
  constructor(redirectUri: string, state: string | undefined, error: string, description: string, clientId: string) {
    super(description);
    this.redirectUri = redirectUri;
    this.state = state;
    this.error = error;
    this.description = description;
    this.clientId = clientId;
  }
}

/** The parameters of a request, one string each; `resource` may repeat (RFC 8707 §2) and is space-joined. */
export type Params = Record<string, string>;

/** `URLSearchParams` as `Params`, with the names sent more than once (RFC 6749 §3.1: a parameter must not repeat). */
export function paramsOf(search: URLSearchParams): { params: Params; repeated: string[] } {
  const params: Params = {};
  const repeated: string[] = [];
  for (const key of new Set(search.keys())) {
    const values = search.getAll(key);
    if (values.length > 1 && key !== 'resource') repeated.push(key);
    params[key] = values.join(' ');
  }
  return { params, repeated };
}

const MAX_STATE = 1024;
const MAX_NONCE = 256;
const MAX_SCOPE = 2048;
const JKT = /^[A-Za-z0-9_-]{43}$/;
const PROMPTS = new Set(['none', 'login', 'consent', 'select_account']);

/** The client and its redirect URI, or an error page: never a redirect before both are known. */
export async function trustedClient(c: HandlerContext, p: Params, repeated: readonly string[]): Promise<{ client: ClientRecord; redirectUri: string }> {
  if (repeated.includes('client_id') || repeated.includes('redirect_uri')) throw new AuthzPageError(400, 'client_id and redirect_uri must each be sent once.');
  if (!p.client_id) throw new AuthzPageError(400, 'The request names no client (client_id is missing). Go back to the application and try again.');
  const client = p.client_id.length > 512 ? null : await c.clients.get(p.client_id);
  // A client without a redirect URI (a backend, a resource server) is answered as an unknown one: the
  // page does not tell which client ids exist, as client authentication does not (client-auth.ts).
  if (client === null || !client.redirectUris?.length)
    throw new AuthzPageError(400, 'The application that sent you here is not registered with this service for sign-in (unknown client_id).');
  if (!p.redirect_uri) throw new AuthzPageError(400, 'The request names no redirect_uri. Go back to the application and try again.');
  // Exact string comparison (RFC 9700 §4.1.3), loopback ports aside (RFC 8252 §7.3): redirect-uri.ts.
  if (matchRedirectUri(client.redirectUris, p.redirect_uri) === undefined)
    throw new AuthzPageError(400, `The redirect_uri is not one registered for the application ${client.id}, so you are not sent back to it.`);
  // The presented URI, which matched (a loopback one with its own port): the code goes where the client listens.
  return { client, redirectUri: p.redirect_uri };
}

/** The `prompt` values (OIDC Core §3.1.2.1): `none` alone, the others together; `select_account` asks nothing more here. */
function promptOf(value: string | undefined): AuthzRequest['prompt'] | string {
  if (value === undefined) return [];
  const values = value.split(' ').filter((v) => v !== '');
  if (values.some((v) => !PROMPTS.has(v))) return 'prompt must be none, login, consent or select_account';
  if (values.includes('none') && values.length > 1) return 'prompt=none cannot be combined with another value';
  return values.filter((v): v is 'none' | 'login' | 'consent' => v !== 'select_account');
}

/** The checks after the client and its redirect URI, each a redirected error: [error, description] or the request. */
function rest(c: HandlerContext, client: ClientRecord, p: Params, pushed: boolean): AuthzRequest | [string, string] {
  if (p.request !== undefined) return ['request_not_supported', 'Request objects are not supported; use PAR (RFC 9126)'];
  if (!p.response_type) return ['invalid_request', 'response_type is required'];
  if (p.response_type !== 'code') return ['unsupported_response_type', 'Only response_type=code is supported'];
  if (p.response_mode !== undefined && p.response_mode !== 'query') return ['invalid_request', 'response_mode must be query'];
  // RFC 9126 §6: a client registered with require_pushed_authorization_requests must use PAR.
  if (client.requirePar && !pushed) return ['invalid_request', `Client ${client.id} must push its authorization requests (PAR, RFC 9126)`];
  // PKCE for every client (OAuth 2.1 §4.1.1, RFC 9700 §2.1.1), S256 only (RFC 7636 §4.2).
  if (p.code_challenge === undefined) return ['invalid_request', 'code_challenge is required (PKCE, RFC 7636)'];
  if (p.code_challenge_method !== 'S256') return ['invalid_request', 'code_challenge_method must be S256 (RFC 7636 §4.2)'];
  try {
    checkChallenge(p.code_challenge, p.code_challenge_method);
  } catch {
    return ['invalid_request', 'code_challenge must be 43 base64url characters (RFC 7636 §4.2)'];
  }
  // Bounded, so that the sealed transaction stays small whatever the client's list allows.
  if (p.scope !== undefined && p.scope.length > MAX_SCOPE) return ['invalid_scope', `scope must be at most ${MAX_SCOPE} characters`];
  let scope: string[] | undefined;
  try {
    scope = p.scope === undefined ? undefined : parseScope(p.scope);
  } catch {
    return ['invalid_scope', 'scope holds a character outside RFC 6749 §3.3'];
  }
  const extra = scope && client.scopes ? outside(scope, client.scopes) : [];
  if (extra.length > 0) return ['invalid_scope', `Client ${client.id} may not ask for the scope ${extra[0]}`];
  let resource: string[];
  try {
    resource = grantedResources(c, client, p.resource);
  } catch (err) {
    return ['invalid_target', isBatonError(err) ? err.message : 'resource is not valid'];
  }
  if (p.nonce !== undefined && (p.nonce === '' || p.nonce.length > MAX_NONCE)) return ['invalid_request', `nonce must be 1 to ${MAX_NONCE} characters`];
  const prompt = promptOf(p.prompt);
  if (typeof prompt === 'string') return ['invalid_request', prompt];
  if (p.max_age !== undefined && !/^\d{1,10}$/.test(p.max_age)) return ['invalid_request', 'max_age must be a whole number of seconds'];
  if (p.dpop_jkt !== undefined && !JKT.test(p.dpop_jkt)) return ['invalid_request', 'dpop_jkt must be a JWK SHA-256 thumbprint (RFC 9449 §10)'];
  return {
    clientId: client.id,
    redirectUri: '',
    ...(scope === undefined ? {} : { scope: scope.join(' ') }),
    resource,
    codeChallenge: p.code_challenge,
    ...(p.nonce === undefined ? {} : { nonce: p.nonce }),
    prompt,
    ...(p.max_age === undefined ? {} : { maxAge: Number(p.max_age) }),
    ...(p.dpop_jkt === undefined ? {} : { dpopJkt: p.dpop_jkt }),
    ...(pushed ? { pushed } : {}),
  };
}

/**
 * The checked request of `p` (the query, a form, or a PAR's parameters when `pushed`); throws
 * `AuthzPageError` (client or redirect URI) or `AuthzRedirectError` (everything else).
 */
export async function checkRequest(c: HandlerContext, p: Params, repeated: readonly string[], pushed = false): Promise<AuthzRequest> {
  const { client, redirectUri } = await trustedClient(c, p, repeated);
  // The state is echoed as sent (RFC 6749 §4.1.2); one longer than any client needs is not.
  const state = p.state !== undefined && p.state.length <= MAX_STATE && !repeated.includes('state') ? p.state : undefined;
  const fail = (error: string, description: string) => new AuthzRedirectError(redirectUri, state, error, description, client.id);
  if (repeated.length > 0) throw fail('invalid_request', `The parameter ${repeated[0]} is repeated (RFC 6749 §3.1)`);
  if (p.state !== undefined && state === undefined) throw fail('invalid_request', `state must be at most ${MAX_STATE} characters`);
  const checked = rest(c, client, p, pushed);
  if (Array.isArray(checked)) throw fail(...checked);
  return { ...checked, redirectUri, ...(state === undefined ? {} : { state }) };
}
