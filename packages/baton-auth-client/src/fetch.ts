/**
 * `client.fetch`: the access token on requests to the origins the client sends it to, a refresh
 * first when it is about to expire, and on a 401 from such an origin one refresh and one retry
 * (the body replayed from a tee). Requests elsewhere go as they are.
 *
 * A DPoP-bound token (RFC 9449 §7) goes as `Authorization: DPoP` with a fresh proof; a 401
 * `use_dpop_nonce` (§9) is answered by one retry signed with the server's nonce, not a refresh.
 */
import { isResourceNonceChallenge } from './dpop.ts';
import { SessionExpiredError } from './errors.ts';
import type { StoredTokens, TokenClientOptions } from './types.ts';

/** What the fetch needs of the client. */
export interface FetchSource {
  /** Valid tokens, refreshed first near expiry. */
  tokens(): Promise<StoredTokens>;
  refresh(seenAccessToken?: string): Promise<StoredTokens>;
  sendsTokenTo(url: string | URL): boolean;
  /** The headers that carry `tokens` on a `method` request to `url`: `authorization`, and `dpop` for a bound token. */
  authorization(method: string, url: string, tokens: StoredTokens): Promise<Record<string, string>>;
  /** Notes a response's `DPoP-Nonce` for its origin. */
  noteNonce(url: string, response: Response): void;
}

async function send(client: FetchSource, fetcher: typeof fetch, request: Request, tokens: StoredTokens): Promise<Response> {
  const headers = new Headers(request.headers);
  for (const [name, value] of Object.entries(await client.authorization(request.method, request.url, tokens))) headers.set(name, value);
  const response = await fetcher(new Request(request, { headers }));
  client.noteNonce(request.url, response);
  return response;
}

/** Sends with `tokens`, and once more with the server's nonce if a DPoP-bound token's request was refused for want of it. */
async function attempt(client: FetchSource, fetcher: typeof fetch, template: Request, tokens: StoredTokens): Promise<Response> {
  const response = await send(client, fetcher, template.clone(), tokens);
  if (tokens.tokenType !== 'DPoP' || !isResourceNonceChallenge(response)) return response;
  await response.body?.cancel().catch(() => undefined);
  return send(client, fetcher, template.clone(), tokens);
}

/** Sends `request` through `fetcher`, with the hooks, as `client.fetch` documents. */
export async function authorizedFetch(client: FetchSource, fetcher: typeof fetch, hooks: TokenClientOptions['hooks'], input: Request): Promise<Response> {
  let request = input;
  for (const hook of hooks?.beforeRequest ?? []) request = (await hook(request)) ?? request;
  let response: Response;
  if (!client.sendsTokenTo(request.url)) {
    response = await fetcher(request);
  } else {
    // Every send takes a clone (a tee of the body), so the retries can send the body again.
    let tokens = await client.tokens();
    response = await attempt(client, fetcher, request, tokens);
    // A 401 is the API's word only if it came from an origin that got the token (not after a redirect elsewhere).
    if (response.status === 401 && (!response.redirected || client.sendsTokenTo(response.url))) {
      const fresh = await client.refresh(tokens.accessToken).catch((err: unknown) => {
        if (err instanceof SessionExpiredError) return null;
        throw err;
      });
      if (fresh !== null && fresh.accessToken !== tokens.accessToken) {
        tokens = fresh;
        await response.body?.cancel().catch(() => undefined);
        response = await attempt(client, fetcher, request, tokens);
      }
    }
  }
  for (const hook of hooks?.afterResponse ?? []) response = (await hook(request, response)) ?? response;
  return response;
}
