/**
 * The revocation of `client.logout` on the wire (RFC 7009 §2.1): the refresh token — or, without one, the access
 * token — with its `token_type_hint` and the client's authentication, and with DPoP a proof by the session's key
 * (RFC 7009 asks none; one that is sent must be by the token's key). Best effort: the tokens are already cleared from
 * the storage, and no answer or failure of the server changes that.
 */
import type { DpopKeeper } from './dpop-keeper.ts';
import { clientRequest, postToken } from './refresher.ts';
import type { StoredTokens } from './types.ts';

/** One revocation: where (the discovered or given `revocation` endpoint, if any), which tokens, as which client. */
export interface RevocationRequest {
  endpoint: string | undefined;
  tokens: StoredTokens | null;
  clientId: string | undefined;
  clientSecret: string | undefined;
  fetch: typeof fetch;
  now: () => number;
  dpop: Pick<DpopKeeper, 'forTokenRequests'>;
}

/** Asks the server to revoke the session's token; resolves when it answered or failed, never rejects. */
export async function revokeTokens(r: RevocationRequest): Promise<void> {
  const token = r.tokens?.refreshToken ?? r.tokens?.accessToken;
  if (!r.endpoint || !token) return;
  const { body, headers } = clientRequest({ token, token_type_hint: r.tokens?.refreshToken ? 'refresh_token' : 'access_token' }, r.clientId, r.clientSecret);
  const dpop = await r.dpop.forTokenRequests(r.tokens?.tokenType === 'DPoP').catch(() => undefined);
  await postToken(r.fetch, r.endpoint, body, headers, { cookie: false, dpop, now: r.now }).catch(() => undefined);
}
