/** Metrics of the endpoints' answers: each POST counted by path, status, grant and the OAuth error code it answered. */
import type { AuthHandler } from 'baton-auth/http';
import { peekText } from 'baton-auth/protocol';
import type { Metrics } from './ops.ts';

/** The endpoints, each POST's answer counted in `metrics` (when there are metrics). */
export function observeResponses(
  endpoints: AuthHandler,
  metrics: Metrics | undefined,
): (request: Request, context: Parameters<AuthHandler>[1], pathname: string) => Promise<Response> {
  return async (request: Request, context: Parameters<AuthHandler>[1], pathname: string): Promise<Response> => {
    if (metrics === undefined || request.method !== 'POST') return endpoints(request, context);
    const fields = pathname.endsWith('/oauth/token') ? new URLSearchParams(await peekText(request)) : undefined;
    const grant = fields?.get('grant_type') ?? undefined;
    const response = await endpoints(request, context);
    let error: string | undefined;
    if (grant === 'refresh_token' && !fields?.has('refresh_token') && !/(^|;\s*)(__Host-|__Secure-)?baton_rt=/.test(request.headers.get('cookie') ?? ''))
      error = 'no_token';
    else if (response.status === 400 || response.status === 401) {
      // A refusal's body is a small JSON object (RFC 6749 §5.2): its code says what to count.
      error = await response
        .clone()
        .json()
        .then(
          (b: { error?: unknown }) => (typeof b.error === 'string' ? b.error : undefined),
          () => undefined,
        );
    }
    metrics.observeResponse(pathname, request.method, response.status, grant, error);
    return response;
  };
}
