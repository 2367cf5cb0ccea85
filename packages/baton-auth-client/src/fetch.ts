/**
 * `client.fetch`: the access token on requests to the origins the client sends it to, a refresh
 * first when it is about to expire, and on a 401 from such an origin one refresh and one retry
 * (the body replayed from a tee). Requests elsewhere go as they are.
 *
 * A DPoP-bound token (RFC 9449 §7) goes as `Authorization: DPoP` with a fresh proof; a 401
 * `use_dpop_nonce` (§9) is answered by one retry signed with the server's nonce, not a refresh.
 */
import { isResourceNonceChallenge } from './dpop.ts';
import type { DpopKeeper } from './dpop-keeper.ts';
import { BatonClientError, isSignedOut } from './errors.ts';
import type { StoredTokens, TokenClientOptions } from './types.ts';

/** What the fetch needs of the client. */
export interface FetchSource {
  /** Valid tokens, refreshed first near expiry. */
  tokens(): Promise<StoredTokens>;
  refresh(seenAccessToken?: string): Promise<StoredTokens>;
  sendsTokenTo(url: string | URL): boolean;
  /** The client's DPoP keeper: the headers that carry a token, and the nonces heard. */
  dpop: Pick<DpopKeeper, 'authorization' | 'noteResponse'>;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** A response and the URL that answered it (after the redirects followed). */
interface Answer {
  response: Response;
  url: string;
}

/**
 * Whether this runtime hides where a redirect goes (browsers and their workers answer
 * `redirect: 'manual'` with an opaque response): there redirects are followed natively, and the
 * target of one may see a proof for the first URL, never the token. Asked once, before any
 * request, so that no request is ever sent twice to find out.
 */
const OPAQUE_REDIRECTS =
  typeof (globalThis as { document?: unknown }).document !== 'undefined' ||
  typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !== 'undefined';

/**
 * Sends a request with the token's headers, following redirects itself where the runtime shows
 * them: `fetch` would drop `Authorization` on the way to another origin but forward the `DPoP`
 * proof. Each hop to an origin the client sends tokens to gets its own proof; a hop elsewhere goes
 * without either, and only those origins' `DPoP-Nonce` is remembered.
 */
async function send(client: FetchSource, fetcher: typeof fetch, template: () => Request, tokens: StoredTokens): Promise<Answer> {
  let request = template();
  for (let hop = 0; ; hop++) {
    const ours = client.sendsTokenTo(request.url);
    const headers = new Headers(request.headers);
    if (ours) for (const [name, value] of Object.entries(await client.dpop.authorization(request.method, request.url, tokens))) headers.set(name, value);
    else for (const name of ['authorization', 'dpop']) headers.delete(name);
    const response = await fetcher(new Request(request, { headers, redirect: OPAQUE_REDIRECTS ? 'follow' : hop < 20 ? 'manual' : 'error' }));
    const answered = response.redirected && response.url !== '' ? response.url : request.url; // a browser's native follow
    if (client.sendsTokenTo(answered)) client.dpop.noteResponse(answered, response);
    const location = REDIRECTS.has(response.status) ? response.headers.get('location') : null;
    if (location === null) return { response, url: answered };
    await response.body?.cancel().catch(() => undefined);
    // RFC 9110 §15.4: 303 (and 301/302 after a POST, as fetch does) become a GET without a body.
    const asGet = response.status === 303 || ((response.status === 301 || response.status === 302) && request.method === 'POST');
    const next = template();
    request = new Request(new URL(location, request.url), asGet ? { method: 'GET', headers: next.headers } : next);
  }
}

/**
 * Sends with `tokens`, and once more with the server's nonce if a DPoP-bound token's request was
 * refused for want of it by an origin that gets the token (§9).
 */
async function attempt(client: FetchSource, fetcher: typeof fetch, template: Request, tokens: StoredTokens): Promise<Answer> {
  const answer = await send(client, fetcher, () => template.clone(), tokens);
  if (tokens.tokenType !== 'DPoP' || !isResourceNonceChallenge(answer.response) || !client.sendsTokenTo(answer.url)) return answer;
  await answer.response.body?.cancel().catch(() => undefined);
  return send(client, fetcher, () => template.clone(), tokens);
}

/** `fetch`'s arguments as one `Request`, or `ERR_INVALID_ARGUMENT` with the platform's reason (a URL that does not parse). */
export function requestOf(input: RequestInfo | URL, init: RequestInit | undefined): Request {
  try {
    return new Request(input, init);
  } catch (err) {
    throw new BatonClientError('ERR_INVALID_ARGUMENT', `fetch: the request cannot be made (${(err as Error).message}).`, { cause: err });
  }
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
    const answer = await attempt(client, fetcher, request, tokens);
    response = answer.response;
    // A 401 is the API's word only if it came from an origin that got the token (not after a
    // redirect elsewhere), and asks for a new token only if it is not a nonce challenge (that
    // had its one retry).
    if (
      response.status === 401 &&
      client.sendsTokenTo(answer.url) &&
      (!response.redirected || client.sendsTokenTo(response.url)) &&
      !isResourceNonceChallenge(response)
    ) {
      const fresh = await client.refresh(tokens.accessToken).catch((err: unknown) => {
        if (isSignedOut(err)) return null;
        throw err;
      });
      if (fresh !== null && fresh.accessToken !== tokens.accessToken) {
        tokens = fresh;
        await response.body?.cancel().catch(() => undefined);
        response = (await attempt(client, fetcher, request, tokens)).response;
      }
    }
  }
  for (const hook of hooks?.afterResponse ?? []) response = (await hook(request, response)) ?? response;
  return response;
}
