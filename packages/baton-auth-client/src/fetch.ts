/**
 * `client.fetch`: the access token on requests to the origins the client sends it to, a refresh
 * first when it is about to expire, and on a 401 from such an origin one refresh and one retry
 * (the body replayed from a tee). Requests elsewhere go as they are.
 */
import { SessionExpiredError } from './errors.ts';
import type { StoredTokens, TokenClientOptions } from './types.ts';

/** What the fetch needs of the client. */
export interface FetchSource {
  getAccessToken(): Promise<string>;
  refresh(seenAccessToken?: string): Promise<StoredTokens>;
  sendsTokenTo(url: string | URL): boolean;
}

function send(fetcher: typeof fetch, request: Request, token: string): Promise<Response> {
  const headers = new Headers(request.headers);
  headers.set('authorization', `Bearer ${token}`);
  return fetcher(new Request(request, { headers }));
}

/** Sends `request` through `fetcher`, with the hooks, as `client.fetch` documents. */
export async function authorizedFetch(client: FetchSource, fetcher: typeof fetch, hooks: TokenClientOptions['hooks'], input: Request): Promise<Response> {
  let request = input;
  for (const hook of hooks?.beforeRequest ?? []) request = (await hook(request)) ?? request;
  let response: Response;
  if (!client.sendsTokenTo(request.url)) {
    response = await fetcher(request);
  } else {
    const replay = request.clone(); // tees the body, so the retry can send it again
    let token = await client.getAccessToken();
    response = await send(fetcher, request, token);
    // A 401 is the API's word only if it came from an origin that got the token (not after a redirect elsewhere).
    if (response.status === 401 && (!response.redirected || client.sendsTokenTo(response.url))) {
      const fresh = await client.refresh(token).catch((err: unknown) => {
        if (err instanceof SessionExpiredError) return null;
        throw err;
      });
      if (fresh !== null && fresh.accessToken !== token) {
        token = fresh.accessToken;
        response = await send(fetcher, replay, token);
      }
    }
  }
  for (const hook of hooks?.afterResponse ?? []) response = (await hook(request, response)) ?? response;
  return response;
}
