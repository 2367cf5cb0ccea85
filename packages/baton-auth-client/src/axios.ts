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
import { SessionExpiredError } from './errors.ts';
import type { TokenClient } from './client.ts';

interface AxiosLikeConfig {
  url?: string;
  baseURL?: string;
  method?: string;
  headers?: Record<string, unknown> | { set(name: string, value: string): unknown };
  batonRetried?: boolean;
  batonNonceRetried?: boolean;
}
interface AxiosLikeError {
  config?: AxiosLikeConfig;
  response?: { status?: number; headers?: Record<string, unknown> | { get(name: string): unknown } };
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
  const value = headers && typeof (headers as { get?: unknown }).get === 'function' ? (headers as { get(n: string): unknown }).get(name) : (headers as Record<string, unknown> | undefined)?.[name];
  return typeof value === 'string' ? value : undefined;
}

/** The URL a request goes to, as axios builds it: `url` over `baseURL` (an absolute `url` wins). */
function target(config: AxiosLikeConfig): string | undefined {
  try {
    return new URL(config.url ?? '', config.baseURL === undefined ? undefined : new URL(config.baseURL, (globalThis as { location?: { href?: string } }).location?.href)).href;
  } catch {
    return undefined;
  }
}

/**
 * Interceptors for `instance` (an axios instance, which the retry goes through). Like
 * `client.fetch`, they attach the token only to the origins the client sends it to, and a 401
 * from any other origin spends no refresh.
 */
export function axiosInterceptors(client: TokenClient, instance: { request(config: never): Promise<unknown> }) {
  const used = new WeakMap<object, string>(); // the access token each request carried
  const ours = (config: AxiosLikeConfig): boolean => {
    const url = target(config);
    return url !== undefined && client.sendsTokenTo(url);
  };
  return {
    request: async <T extends AxiosLikeConfig>(config: T): Promise<T> => {
      if (!ours(config)) return config;
      const headers = await client.authorizationHeaders((config.method ?? 'get').toUpperCase(), target(config) as string);
      used.set(config, (headers.authorization as string).replace(/^\S+ /, ''));
      setHeaders(config, headers);
      return config;
    },
    response: async (error: AxiosLikeError): Promise<unknown> => {
      const config = error.config;
      if (error.response?.status !== 401 || config === undefined || config.batonRetried || !ours(config)) throw error;
      const nonce = header(error, 'dpop-nonce');
      client.noteDpopNonce(target(config) as string, nonce);
      // RFC 9449 §9: the resource server wants a proof with its nonce; once, and no refresh for it.
      if (nonce !== undefined && !config.batonNonceRetried && /\berror\s*=\s*"?use_dpop_nonce\b/i.test(header(error, 'www-authenticate') ?? '')) {
        config.batonNonceRetried = true;
        return instance.request(config as never);
      }
      try {
        await client.refresh(used.get(config));
      } catch (err) {
        // The session is over (sessionExpired was emitted): the caller gets the 401 it would have had.
        if (err instanceof SessionExpiredError) throw error;
        throw err;
      }
      config.batonRetried = true;
      return instance.request(config as never);
    },
  };
}
