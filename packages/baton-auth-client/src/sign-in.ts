/**
 * `client.signIn` on the wire: the form POSTed to the server's login endpoint (with `client_id` or
 * the client's secret, and a DPoP proof when the client has a key), and what its answer means —
 * tokens, or a `SignInError` with the server's OAuth error (RFC 6749 §5.2).
 */
import { isRedirect } from './discovery.ts';
import { SignInError, TransientRefreshError } from './errors.ts';
import { clientRequest, postToken, retryAfterMs } from './refresher.ts';
import type { TokenProofs } from './refresher.ts';
import type { TokenResponse } from './types.ts';

/** One sign-in: where, with what. */
export interface SignInRequest {
  endpoint: string;
  fields: Record<string, string>;
  clientId: string | undefined;
  clientSecret: string | undefined;
  /** Cookie mode: the request carries credentials, so the refresh cookie is kept. */
  cookie: boolean;
  fetch: typeof fetch;
  now: () => number;
  dpop: TokenProofs | undefined;
}

/** The tokens a sign-in answered, when they arrived on this clock, and the answer's `Date` (ms, NaN when absent). */
export interface SignedIn {
  response: TokenResponse;
  receivedAt: number;
  serverDate: number;
}

/**
 * Sends the sign-in. Throws `SignInError` (`ERR_SIGN_IN_REFUSED`) when refused or redirected
 * (credentials are never sent after a redirect), `TransientRefreshError` when the endpoint cannot
 * be reached.
 */
export async function signInRequest(r: SignInRequest): Promise<SignedIn> {
  const { body, headers } = clientRequest(r.fields, r.clientId, r.clientSecret);
  let answer;
  try {
    answer = await postToken(r.fetch, r.endpoint, body, headers, { cookie: r.cookie, dpop: r.dpop, now: r.now });
  } catch (err) {
    throw new TransientRefreshError(`The sign-in endpoint could not be reached: ${(err as Error).message}`, { cause: err });
  }
  const receivedAt = r.now();
  const { res, json } = answer;
  if (isRedirect(res))
    throw new SignInError(`The sign-in endpoint ${r.endpoint} redirects (HTTP ${res.status}); credentials are never sent after a redirect.`, {
      status: res.status,
    });
  const answered = json as (TokenResponse & { error?: unknown; error_description?: unknown }) | undefined;
  if (res.ok && typeof answered?.access_token === 'string') return { response: answered, receivedAt, serverDate: Date.parse(res.headers.get('date') ?? '') };
  const error = typeof answered?.error === 'string' ? answered.error : undefined;
  const description = typeof answered?.error_description === 'string' ? answered.error_description : undefined;
  throw new SignInError(
    `Sign-in refused (HTTP ${res.status}${error === undefined ? '' : `, ${error}`})${description === undefined ? '' : `: ${description}`}`,
    {
      status: res.status,
      error,
      errorDescription: description,
      retryAfterMs: retryAfterMs(res.headers.get('retry-after'), r.now()),
    },
  );
}
