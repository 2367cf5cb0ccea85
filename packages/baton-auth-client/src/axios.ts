/**
 * An axios interceptor pair for apps on axios: the request interceptor attaches a fresh access
 * token (refreshing first near expiry), the response interceptor refreshes once on a 401 and
 * retries the request once. Import from `baton-auth-client`.
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
  headers?: Record<string, unknown> | { set(name: string, value: string): unknown };
  batonRetried?: boolean;
}
interface AxiosLikeError {
  config?: AxiosLikeConfig;
  response?: { status?: number };
}

function setAuthorization(config: AxiosLikeConfig, token: string): void {
  const headers = config.headers;
  if (headers && typeof (headers as { set?: unknown }).set === 'function') (headers as { set(n: string, v: string): unknown }).set('Authorization', `Bearer ${token}`);
  else config.headers = { ...(headers as Record<string, unknown> | undefined), Authorization: `Bearer ${token}` };
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
  const used = new WeakMap<object, string>();
  const ours = (config: AxiosLikeConfig): boolean => {
    const url = target(config);
    return url !== undefined && client.sendsTokenTo(url);
  };
  return {
    request: async <T extends AxiosLikeConfig>(config: T): Promise<T> => {
      if (!ours(config)) return config;
      const token = await client.getAccessToken();
      used.set(config, token);
      setAuthorization(config, token);
      return config;
    },
    response: async (error: AxiosLikeError): Promise<unknown> => {
      const config = error.config;
      if (error.response?.status !== 401 || config === undefined || config.batonRetried || !ours(config)) throw error;
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
