/**
 * Scopes (RFC 6749 §3.3): space-separated tokens. The server decides what a token carries — the
 * intersection of what was asked for, what the user may have and what the client may ask for —
 * and a request for more is refused with `invalid_scope` (§5.2), never granted.
 */
import { BatonConfigError, BatonError } from './errors.ts';

/** scope-token = 1*( %x21 / %x23-5B / %x5D-7E ) (RFC 6749 §3.3). */
const TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/** The distinct scope tokens of `value`, in order; `ERR_INVALID_SCOPE` for anything outside the grammar. */
export function parseScope(value: string): string[] {
  if (typeof value !== 'string') throw new BatonError('ERR_INVALID_SCOPE', 'scope is not a string');
  const tokens = value.split(' ').filter((t) => t !== '');
  for (const t of tokens) if (!TOKEN.test(t)) throw new BatonError('ERR_INVALID_SCOPE', 'scope holds a character outside RFC 6749 §3.3');
  return [...new Set(tokens)];
}

/**
 * `scopes` as given, if each is one scope-token (RFC 6749 §3.3: printable ASCII but space, `"` and
 * `\\`); otherwise a BatonConfigError naming `setting` and the first entry that is not one. The one
 * check of a configured scope list: `createAuthHandler`'s `scopes`, `staticClients`, `BATON_SCOPES`.
 */
export function checkScopes(scopes: unknown, setting: string): string[] {
  if (!Array.isArray(scopes)) throw new BatonConfigError(`${setting} must be a list of scope names (RFC 6749 §3.3), e.g. ['profile', 'orders:read'].`);
  for (const s of scopes as unknown[]) {
    if (typeof s !== 'string' || !TOKEN.test(s)) {
      throw new BatonConfigError(
        `${setting} must list scope names (RFC 6749 §3.3: printable ASCII without spaces, " or \\), and ${JSON.stringify(typeof s === 'string' ? s.slice(0, 64) : s)} is not one.`,
      );
    }
  }
  return [...(scopes as string[])];
}

/** The scopes of `requested` that are not in `allowed`. */
export function outside(requested: readonly string[], allowed: readonly string[]): string[] {
  const set = new Set(allowed);
  return requested.filter((s) => !set.has(s));
}

/**
 * What a login grants: `requested` (or, when the client named none, everything it could ask for)
 * if every scope of it is in each of the `limits`; `ERR_INVALID_SCOPE` naming the first scope
 * outside them otherwise. A `limits` entry of `undefined` sets no limit.
 */
export function grantScope(requested: string | undefined, ...limits: (readonly string[] | undefined)[]): string {
  const bounds = limits.filter((l): l is readonly string[] => l !== undefined);
  if (requested === undefined) {
    if (bounds.length === 0) return '';
    const [first, ...rest] = bounds as [readonly string[], ...(readonly string[])[]];
    return first.filter((s) => rest.every((b) => b.includes(s))).join(' ');
  }
  const asked = parseScope(requested);
  for (const bound of bounds) {
    const extra = outside(asked, bound);
    if (extra.length > 0) throw new BatonError('ERR_INVALID_SCOPE', `scope ${extra[0]} is not granted`);
  }
  return asked.join(' ');
}
