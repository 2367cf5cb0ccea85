/** Audience matching (RFC 7519 §4.1.3, RFC 9068 §4): whether a token is for this API. */

/** True when `aud` (a claim: one string or an array of them) names `audience`. */
export function namesAudience(aud: unknown, audience: string): boolean {
  return aud === audience || (Array.isArray(aud) && aud.includes(audience));
}
