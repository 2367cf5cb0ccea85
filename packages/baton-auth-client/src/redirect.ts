/**
 * Sign-in from a web page with the authorization code flow: `signInWithRedirect` sends the browser
 * to the authorization server, `completeSignIn` — on the page at the redirect URI — checks the
 * answer and redeems the code; the tokens then live in the client's storage, and its refresh,
 * `fetch` and WebSocket work as after `client.signIn`. Import from `baton-auth-client`.
 *
 * What the page must keep across the round trip (the PKCE verifier, `state`, `nonce`, the key
 * thumbprint) is kept in `sessionStorage`, under one key: one sign-in waits per tab. Starting a
 * second one in the same tab replaces the first, whose answer, if it still comes, is refused
 * (`ERR_STATE_MISMATCH`); two tabs each keep their own. The DPoP key the code is bound to is the
 * client's storage's (`browserStorage` keeps it in IndexedDB, so the page at the redirect URI signs
 * with the same key; a key that could only live in the tab's memory is gone after the redirect,
 * and `completeSignIn` says so with `ERR_DPOP_KEY_MISSING`).
 *
 * @example
 * ```ts
 * import { browserStorage, completeSignIn, createTokenClient, signInWithRedirect } from 'baton-auth-client';
 * const client = createTokenClient({ issuer: 'https://auth.example.com', clientId: 'web', storage: browserStorage() });
 * // on the sign-in button:
 * await signInWithRedirect(client, { redirectUri: '/callback', scope: 'openid' });
 * // on /callback:
 * const { claims } = await completeSignIn(client);
 * ```
 */
import { authorizationRequest, checkFlowOptions, codeOf, redeemCode, stateMatches, stateMismatch } from './code-flow.ts';
import type { CodeFlowOptions, CodeSignIn, PendingSignIn } from './code-flow.ts';
import { BatonClientError, configError } from './errors.ts';
import { partsOf } from './internals.ts';
import type { ClientParts } from './internals.ts';
import { urlOf } from './origins.ts';
import type { TokenClient } from './client.ts';

/** The `sessionStorage` key of the tab's pending sign-in. */
export const PENDING_SIGN_IN_KEY = 'baton:sign-in';

/** The answer's parameters (RFC 6749 §4.1.2, RFC 9207), removed from the address bar. */
const ANSWER_PARAMS = ['code', 'state', 'iss', 'error', 'error_description', 'error_uri', 'session_state'];

/** Options of `signInWithRedirect`. */
export interface RedirectSignInOptions extends CodeFlowOptions {
  /** The page that calls `completeSignIn`, exactly as registered with the server; a relative one is resolved against this page. */
  redirectUri: string;
  /** Sends the browser to the authorization URL. Default `location.assign(url)`. */
  navigate?: (url: string) => void;
}

type SessionStore = Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;

/** This tab's `sessionStorage`, or `ERR_CONFIG` naming `fn` where the page may not use it (a sandboxed frame, storage blocked). */
function sessionStore(fn: string): SessionStore {
  try {
    const store = (globalThis as { sessionStorage?: SessionStore }).sessionStorage;
    if (store !== undefined) return store;
  } catch {
    // blocked: said below
  }
  throw configError(`${fn} keeps the pending sign-in in sessionStorage, which this page cannot use (a sandboxed frame, storage blocked).`);
}

/**
 * Starts a sign-in: builds the authorization request (PKCE S256, `state`, `nonce` with `openid`,
 * `dpop_jkt` when the client uses DPoP; pushed with PAR when the server requires it or `par` is
 * set), keeps what its answer will be checked against in `sessionStorage`, and navigates there.
 * The promise resolves as the page starts leaving.
 */
export async function signInWithRedirect(client: TokenClient, options: RedirectSignInOptions): Promise<void> {
  const p = partsOf(client, 'signInWithRedirect');
  if (typeof options !== 'object' || options === null || typeof options.redirectUri !== 'string')
    throw configError('signInWithRedirect needs `{ redirectUri }`: the page that calls completeSignIn.');
  if (options.navigate !== undefined && typeof options.navigate !== 'function')
    throw configError('signInWithRedirect: `navigate` must be a function of the URL.');
  checkFlowOptions(options, 'signInWithRedirect');
  const store = sessionStore('signInWithRedirect');
  const redirectUri = urlOf(options.redirectUri, 'signInWithRedirect').href;
  const { url, pending } = await authorizationRequest(p, { ...options, redirectUri }, 'signInWithRedirect');
  store.setItem(PENDING_SIGN_IN_KEY, JSON.stringify(pending)); // replaces an earlier one of this tab
  (options.navigate ?? ((to: string) => globalThis.location.assign(to)))(url);
}

/** Removes the answer's parameters from the address bar when `answer` is this page's URL, so the code is not left in history or reloaded. */
function cleanAddressBar(answer: URL): void {
  const g = globalThis as { location?: Location; history?: History };
  if (g.location === undefined || g.history === undefined || g.location.href !== answer.href) return;
  const clean = new URL(answer.href);
  for (const name of ANSWER_PARAMS) clean.searchParams.delete(name);
  g.history.replaceState(g.history.state, '', clean.href);
}

/** The pending sign-in of this tab for this client's issuer and client id, or `ERR_NO_PENDING_SIGN_IN`. */
function pendingFor(store: SessionStore, p: ClientParts): PendingSignIn {
  let pending: Partial<PendingSignIn> | undefined;
  try {
    pending = JSON.parse(store.getItem(PENDING_SIGN_IN_KEY) ?? 'null') as Partial<PendingSignIn> | undefined;
  } catch {
    pending = undefined;
  }
  const fields = ['issuer', 'clientId', 'redirectUri', 'state', 'verifier'] as const;
  if (typeof pending !== 'object' || pending === null || !fields.every((f) => typeof pending[f] === 'string'))
    throw new BatonClientError(
      'ERR_NO_PENDING_SIGN_IN',
      'No sign-in of this tab waits for an answer (never started here, or already completed): sign in again.',
    );
  if (pending.issuer !== p.options.issuer || pending.clientId !== p.options.clientId)
    throw new BatonClientError(
      'ERR_NO_PENDING_SIGN_IN',
      `The sign-in waiting in this tab is for ${pending.issuer} (client ${pending.clientId}), not this client's.`,
    );
  return pending as PendingSignIn;
}

/**
 * Completes the sign-in on the page at the redirect URI: the answer in `url` (default this page's)
 * checked before anything is sent — `state` (`ERR_STATE_MISMATCH`; the sign-in keeps waiting for
 * its own answer), then `iss` (`ERR_ISSUER_MISMATCH`) and the server's `error`
 * (`AuthorizationError`) — then the code redeemed with the verifier and a DPoP proof
 * (`SignInError` when refused), the ID token's claims checked with `openid`
 * (`ERR_ID_TOKEN_INVALID`), the tokens stored. The answer's parameters leave the address bar
 * (`history.replaceState`) whatever happens; a pending sign-in is used once. Called again on the
 * same page with the same client once its answer was taken (React's Strict Mode runs an effect
 * twice), it gives the same outcome rather than `ERR_NO_PENDING_SIGN_IN`.
 */
export async function completeSignIn(
  client: TokenClient,
  url: string | URL = (globalThis as { location?: Location }).location?.href ?? '',
): Promise<CodeSignIn> {
  const p = partsOf(client, 'completeSignIn');
  const answer = urlOf(url, 'completeSignIn');
  cleanAddressBar(answer);
  const store = sessionStore('completeSignIn');
  // Called again once the answer was taken (React's Strict Mode runs an effect twice): the same outcome.
  if (store.getItem(PENDING_SIGN_IN_KEY) === null && taken?.client === client) return taken.outcome;
  const pending = pendingFor(store, p);
  // The pending sign-in is spent by its own answer only: a forged one (another state) leaves it waiting.
  if (!stateMatches(answer.searchParams, pending)) throw stateMismatch();
  store.removeItem(PENDING_SIGN_IN_KEY);
  const outcome = (async () => redeemCode(p, pending, codeOf(answer.searchParams, pending)))();
  taken = { client, outcome };
  return outcome;
}

/** The answer this page took last, and what came of it. */
let taken: { client: TokenClient; outcome: Promise<CodeSignIn> } | undefined;
