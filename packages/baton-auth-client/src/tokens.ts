/**
 * Tokens from a token response, and when they need refreshing — on this machine's clock, from
 * `expires_in` and the moment the response arrived, never from the server's `exp`.
 */
import { TransientRefreshError } from './errors.ts';
import type { StoredTokens, TokenClientOptions, TokenResponse } from './types.ts';

/** The tokens a response (RFC 6749 §5.1) gives; a server that does not rotate keeps the previous refresh token (§6). */
export function tokensFrom(
  r: TokenResponse,
  receivedAt: number,
  previous: StoredTokens | undefined,
  mode: TokenClientOptions['mode'],
  proved = true,
): StoredTokens {
  if (typeof r.access_token !== 'string') throw new TransientRefreshError('The token response has no access_token');
  const tokens: StoredTokens = { accessToken: r.access_token, receivedAt, expiresAt: receivedAt + (r.expires_in ?? 3600) * 1000 };
  const refreshToken = r.refresh_token ?? previous?.refreshToken;
  if (refreshToken !== undefined && mode !== 'cookie') tokens.refreshToken = refreshToken;
  if (r.refresh_expires_in !== undefined) tokens.refreshExpiresAt = receivedAt + r.refresh_expires_in * 1000;
  if (r.scope !== undefined) tokens.scope = r.scope;
  if (r.session_id !== undefined) tokens.sessionId = r.session_id;
  // RFC 9449 §5: `DPoP` (case-insensitive, as every token type, RFC 6749 §5.1) means bound to the
  // client's key — if the request carried a proof (`proved`). A refresh of a bound session stays
  // bound whatever the answer says: its tokens are never sent as Bearer on a server's word.
  if ((proved && typeof r.token_type === 'string' && r.token_type.toLowerCase() === 'dpop') || previous?.tokenType === 'DPoP') tokens.tokenType = 'DPoP';
  return tokens;
}

/** A number in [0, 1) drawn from the token's last characters (its signature): fixed for one token, spread across clients. */
function spread(token: string): number {
  let h = 0x811c9dc5;
  for (let i = Math.max(0, token.length - 16); i < token.length; i++) h = Math.imul(h ^ token.charCodeAt(i), 0x01000193);
  return (h >>> 0) / 2 ** 32;
}

/**
 * How long before expiry to refresh: the configured margin (or a fifth of a short lifetime), plus
 * jitter — the same for every look at one token, so that the timer and the check it triggers agree.
 * None for a token that lasts as long as its refresh token (a server that caps access tokens at
 * the session's end, as Baton does): a refresh could not outlast it, only answer shorter and
 * shorter tokens; the one at expiry tells that the session ended.
 */
export function refreshMargin(tokens: StoredTokens, options: Pick<TokenClientOptions, 'refreshMargin' | 'jitter'>): number {
  // Both in whole seconds (RFC 6749 §5.1): rounded apart by up to one.
  if (tokens.refreshExpiresAt !== undefined && Math.abs(tokens.refreshExpiresAt - tokens.expiresAt) <= 1000) return 0;
  const base = options.refreshMargin ?? Math.min(60_000, (tokens.expiresAt - tokens.receivedAt) / 5);
  return base * (1 + spread(tokens.accessToken) * (options.jitter ?? 0.2));
}
