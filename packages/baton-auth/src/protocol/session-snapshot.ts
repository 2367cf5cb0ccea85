/**
 * What a server-rendered page tells the browser about its session: serializable, rendered into
 * the HTML (a React provider's prop, a SvelteKit `load`'s data), so it carries no token — only who
 * is signed in and until when, or why no one is. Import from `baton-auth/protocol`.
 */

/**
 * The session as the page shows it.
 * - `signed-in`: the user (`sub`, and `name` when the token carries one), the scope, and when the access token ends (ms since the epoch).
 * - `signed-out`: why (`reason`: a session-end reason such as `logout`, `revoked`, `reuse_detected`, `idle_timeout`; null when no one signed in) and a sentence.
 * - `unavailable`: the token service could not be reached; the session is kept (its cookies too) and the next request tries again.
 */
export type SessionSnapshot =
  | { status: 'signed-in'; sub: string; name?: string; scope: string; expiresAt: number }
  | { status: 'signed-out'; reason: string | null; description: string }
  | { status: 'unavailable'; reason: 'unavailable'; description: string };

const REASON = /^[a-z][a-z0-9_]{0,39}$/;

/**
 * `value` if it is a well-formed `SessionSnapshot` (strictly: no other member, nothing that looks
 * like a token), else undefined — for a browser reading `{basePath}/session`.
 */
export function parseSessionSnapshot(value: unknown): SessionSnapshot | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  const keys = Object.keys(v);
  const only = (...allowed: string[]) => keys.every((k) => allowed.includes(k));
  const text = (x: unknown, max: number): x is string => typeof x === 'string' && x.length <= max;
  if (v.status === 'signed-in') {
    if (!only('status', 'sub', 'name', 'scope', 'expiresAt') || !text(v.sub, 256) || !text(v.scope, 4096)) return undefined;
    if (typeof v.expiresAt !== 'number' || !Number.isFinite(v.expiresAt)) return undefined;
    if (v.name !== undefined && !text(v.name, 256)) return undefined;
    return { status: 'signed-in', sub: v.sub, scope: v.scope, expiresAt: v.expiresAt, ...(v.name === undefined ? {} : { name: v.name as string }) };
  }
  if (!only('status', 'reason', 'description') || !text(v.description, 512)) return undefined;
  if (v.status === 'unavailable' && v.reason === 'unavailable') return { status: 'unavailable', reason: 'unavailable', description: v.description };
  if (v.status !== 'signed-out' || (v.reason !== null && !(typeof v.reason === 'string' && REASON.test(v.reason)))) return undefined;
  return { status: 'signed-out', reason: v.reason, description: v.description };
}
