/**
 * Resource indicators (RFC 8707): which API a token is for. A login names the resources its
 * session may get tokens for; each access token's `aud` is the resource it was asked for (or all
 * of the session's), so a token for one API is refused by every other (RFC 9068 §3). A request
 * for an unknown or disallowed resource is `invalid_target` (RFC 8707 §2), never granted.
 */
import { BatonError } from './errors.ts';

function target(detail: string): BatonError {
  return new BatonError('ERR_INVALID_TARGET', detail);
}

/**
 * The distinct resources of `value` (one URI, several, or space-separated ones — a URI holds no
 * space), in order. Each must be an absolute URI without a fragment (RFC 8707 §2).
 */
export function parseResources(value: string | readonly string[] | undefined): string[] {
  if (value === undefined) return [];
  const list = typeof value === 'string' ? value.split(' ') : value;
  const out = new Set<string>();
  for (const r of list) {
    if (typeof r !== 'string') throw target('resource is not a string');
    if (r === '') continue;
    if (r.length > 2048 || r.includes('#') || !URL.canParse(r))
      throw target(`resource ${JSON.stringify(r.slice(0, 100))} is not an absolute URI without a fragment (RFC 8707 §2)`);
    out.add(r);
  }
  return [...out];
}

/**
 * What a login or a `client_credentials` grant may name: `requested` if each of its resources is
 * in each of the `limits` (`undefined`: no limit); `ERR_INVALID_TARGET` naming the first outside.
 */
export function grantResources(requested: string | readonly string[] | undefined, ...limits: (readonly string[] | undefined)[]): string[] {
  const asked = parseResources(requested);
  for (const limit of limits) {
    if (limit === undefined) continue;
    const extra = asked.find((r) => !limit.includes(r));
    if (extra !== undefined) throw target(`resource ${extra} is not allowed here`);
  }
  return asked;
}

/**
 * The `aud` of an access token for `resources` (those of the request, else the session's), or
 * `fallback` (the issuer's own audience) when there are none. `narrowed` must be among the session's.
 */
export function audienceOf(sessionResources: string, narrowed: readonly string[] | undefined, fallback: string): string | string[] {
  const granted = parseResources(sessionResources);
  if (narrowed !== undefined && narrowed.length > 0) {
    const extra = narrowed.find((r) => !granted.includes(r));
    if (extra !== undefined) throw target(`resource ${extra} was not granted to the session`);
  }
  const aud = narrowed !== undefined && narrowed.length > 0 ? narrowed : granted;
  if (aud.length === 0) return fallback;
  return aud.length === 1 ? (aud[0] as string) : [...aud];
}
