/**
 * An axios interceptor pair for apps on axios: the request interceptor attaches a fresh access
 * token (refreshing first near expiry), the response interceptor refreshes once on a 401 and
 * retries the request once. A DPoP-bound token goes as `Authorization: DPoP` with a fresh proof
 * (RFC 9449 §7), and a 401 `use_dpop_nonce` is retried once with the server's nonce (§9). Import
 * from `baton-auth-client`.
 *
 * @example
 * ```ts
 * const { request, response } = axiosInterceptors(client, api);
 * api.interceptors.request.use(request);
 * api.interceptors.response.use(undefined, response);
 * ```
 */
import { asksForNonce, htu } from './dpop.ts';
import { isSignedOut } from './errors.ts';
import { absolute } from './origins.ts';
import type { TokenClient } from './client.ts';

/** What follow-redirects hands a `beforeRedirect` hook: the next request's options. */
interface RedirectOptions {
  href?: string;
  headers?: Record<string, unknown>;
}

interface AxiosLikeConfig {
  url?: string;
  baseURL?: string;
  allowAbsoluteUrls?: boolean;
  method?: string;
  headers?: Record<string, unknown> | { set(name: string, value: string): unknown };
  adapter?: unknown;
  maxRedirects?: number;
  /** follow-redirects' hook (a method, so that axios's own signature fits). */
  beforeRedirect?(options: RedirectOptions, responseDetails: unknown, requestDetails: unknown): void;
  batonRetried?: boolean;
  batonNonceRetried?: boolean;
}
type BeforeRedirect = NonNullable<AxiosLikeConfig['beforeRedirect']>;

/** The request behind a response: Node's last `ClientRequest` (its `res` from follow-redirects) or the page's `XMLHttpRequest`. */
interface AxiosLikeRequest {
  res?: { responseUrl?: unknown; redirects?: unknown };
  responseURL?: unknown;
}
interface AxiosLikeError {
  config?: AxiosLikeConfig;
  request?: AxiosLikeRequest;
  response?: { status?: number; headers?: Record<string, unknown> | { get(name: string): unknown }; request?: AxiosLikeRequest };
}

function setHeaders(config: AxiosLikeConfig, values: Record<string, string>): void {
  for (const [name, value] of Object.entries(values)) {
    const headers = config.headers;
    if (headers && typeof (headers as { set?: unknown }).set === 'function') (headers as { set(n: string, v: string): unknown }).set(name, value);
    else config.headers = { ...(headers as Record<string, unknown> | undefined), [name]: value };
  }
}

/** A response header, from axios's `AxiosHeaders` or a plain object of lower-case names. */
function header(error: AxiosLikeError, name: string): string | undefined {
  const headers = error.response?.headers;
  const value =
    headers && typeof (headers as { get?: unknown }).get === 'function'
      ? (headers as { get(n: string): unknown }).get(name)
      : (headers as Record<string, unknown> | undefined)?.[name];
  return typeof value === 'string' ? value : undefined;
}

/**
 * The URL a request goes to, as axios builds it (`buildFullPath`): `url` appended to `baseURL`
 * (`combineURLs`) unless `url` is absolute — and always appended when `allowAbsoluteUrls` is
 * false — then resolved as the adapter does (against the page in a browser; in Node a relative
 * result is no URL at all).
 */
function target(config: AxiosLikeConfig): string | undefined {
  const { url, baseURL } = config;
  try {
    if (url !== undefined && typeof url !== 'string') return baseURL ? undefined : absolute(String(url)).href;
    const isAbsolute = url !== undefined && /^([a-z][a-z\d+\-.]*:)?\/\//i.test(url);
    const full =
      baseURL && (!isAbsolute || config.allowAbsoluteUrls === false)
        ? url
          ? `${String(baseURL).replace(/\/+$/, '')}/${url.replace(/^\/+/, '')}`
          : String(baseURL)
        : url;
    return full === undefined ? undefined : absolute(full).href;
  } catch {
    return undefined;
  }
}

/**
 * Whether axios would send `config` with its fetch adapter (named, or the first of its list this
 * runtime has: no XMLHttpRequest, not Node), which follows redirects out of reach of the hook below.
 */
function fetchAdapter(config: AxiosLikeConfig): boolean {
  const list = typeof config.adapter === 'string' ? [config.adapter] : Array.isArray(config.adapter) ? (config.adapter as unknown[]) : [];
  const g = globalThis as { XMLHttpRequest?: unknown; process?: { versions?: { node?: string } } };
  const first = list.find((a) => (a === 'xhr' && g.XMLHttpRequest !== undefined) || (a === 'http' && g.process?.versions?.node !== undefined) || a === 'fetch');
  return first === 'fetch';
}

function removeHeader(headers: Record<string, unknown> | undefined, name: string): void {
  for (const key of Object.keys(headers ?? {})) if (key.toLowerCase() === name) delete (headers as Record<string, unknown>)[key];
}

const origin = (url: string): string | undefined => {
  try {
    return absolute(url).origin;
  } catch {
    return undefined;
  }
};

/** The URL the response came from, after any redirects, where the adapter says (Node's follow-redirects, the page's XHR). */
function finalUrl(error: AxiosLikeError): { url: string | undefined; redirects: number } {
  const request = error.response?.request ?? error.request;
  const url = request?.res?.responseUrl ?? request?.responseURL;
  const redirects = request?.res?.redirects;
  return { url: typeof url === 'string' && url !== '' ? url : undefined, redirects: Array.isArray(redirects) ? redirects.length : 0 };
}

/** What a request carried: where it went, its access token, and whether with a proof. */
interface Sent {
  url: string;
  accessToken: string;
  bound: boolean;
}

/**
 * Interceptors for `instance` (an axios instance, which the retry goes through). Like
 * `client.fetch`, they attach the token only to the origins the client sends it to — the URL
 * worked out as axios does, `allowAbsoluteUrls` included — and a 401 that did not answer the
 * token (from another origin after a redirect, or after one that dropped the token) is returned
 * as it is: no nonce kept, no retry, no refresh.
 *
 * Redirects: in Node (follow-redirects), a redirect of a request carrying the token never takes
 * the `DPoP` proof along (it was signed for the first URL), nor the `Authorization` header unless
 * the token is a Bearer one and the redirect stays on the request's origin. With the fetch
 * adapter, which gives no hook, such a request follows no redirect (`maxRedirects: 0`). A page's
 * XMLHttpRequest follows redirects by itself: the browser drops `Authorization` across origins,
 * the proof may go along (useless without the token: it names the first URL and the token's hash).
 */
export function axiosInterceptors(client: TokenClient, instance: { request(config: never): Promise<unknown> }) {
  const sent = new WeakMap<object, Sent>(); // what each request carried
  const hooks = new WeakMap<BeforeRedirect, BeforeRedirect | undefined>(); // our hook → the app's
  return {
    request: async <T extends AxiosLikeConfig>(config: T): Promise<T> => {
      const url = target(config);
      if (url === undefined || !client.sendsTokenTo(url)) return config;
      const headers = await client.authorizationHeaders((config.method ?? 'get').toUpperCase(), url);
      const bound = headers.dpop !== undefined;
      sent.set(config, { url, accessToken: (headers.authorization as string).replace(/^\S+ /, ''), bound });
      setHeaders(config, headers);
      const app = config.beforeRedirect && hooks.has(config.beforeRedirect) ? hooks.get(config.beforeRedirect) : config.beforeRedirect;
      const hook: BeforeRedirect = (options, responseDetails, requestDetails) => {
        app?.(options, responseDetails, requestDetails);
        removeHeader(options.headers, 'dpop');
        if (bound || origin(options.href ?? '') !== origin(url)) removeHeader(options.headers, 'authorization');
      };
      hooks.set(hook, app);
      config.beforeRedirect = hook;
      if (fetchAdapter(config)) config.maxRedirects = 0;
      return config;
    },
    response: async (error: AxiosLikeError): Promise<unknown> => {
      const config = error.config;
      const carried = config === undefined ? undefined : sent.get(config);
      if (error.response?.status !== 401 || config === undefined || carried === undefined || config.batonRetried) throw error;
      // The 401 answers the token only if the request that got it carried it: a redirect to another
      // origin (allowed or not) or of a bound request (the proof stays behind) left it behind.
      const final = finalUrl(error);
      const from = final.url ?? carried.url;
      const redirected = final.redirects > 0 || htu(from) !== htu(carried.url);
      if (redirected && (carried.bound || !client.sendsTokenTo(from) || origin(from) !== origin(carried.url))) throw error;
      const nonce = header(error, 'dpop-nonce');
      client.noteDpopNonce(from, nonce);
      // RFC 9449 §9: the resource server wants a proof with its nonce — once; a second ask is its
      // answer, returned as it is. A nonce is never a reason to refresh.
      if (asksForNonce(header(error, 'www-authenticate'))) {
        if (!carried.bound || nonce === undefined || config.batonNonceRetried) throw error;
        config.batonNonceRetried = true;
        return instance.request(config as never);
      }
      try {
        await client.refresh(carried.accessToken);
      } catch (err) {
        // The session is over (sessionEnded was emitted): the caller gets the 401 it would have had.
        if (isSignedOut(err)) throw error;
        throw err;
      }
      config.batonRetried = true;
      return instance.request(config as never);
    },
  };
}
