/**
 * The claims of an ID token the token endpoint answered a code sign-in with `openid`, checked as
 * OpenID Connect Core §3.1.3.7 asks: `iss` is the issuer, `aud` names this client (and `azp`, when
 * there are several audiences), not expired, and `nonce` the one this sign-in sent — the nonce ties
 * the token to this browser's request, so an ID token injected from another sign-in is refused.
 *
 * The signature is not checked: the token came straight from the token endpoint, over TLS or on
 * loopback, which §3.1.3.7 (6) allows "in place of checking the token signature"; checking it
 * would put a JWS library and a JWKS fetch into every web page's bundle. An app that hands the ID
 * token to a third party verifies it there.
 */
import { BatonClientError } from './errors.ts';
import { sameText } from './same-text.ts';

/** What the ID token must say. */
export interface IdTokenExpectation {
  issuer: string;
  clientId: string;
  nonce: string;
  /** This device's clock, ms. */
  now: number;
}

/** How far past `exp` a token is still taken: clocks differ (ms). */
const LEEWAY_MS = 5 * 60_000;

const invalid = (why: string) => new BatonClientError('ERR_ID_TOKEN_INVALID', `The ID token is not this sign-in's: ${why}. No token was kept; sign in again.`);

/** The payload of a JWS compact token, parsed, or undefined when it is not one. */
function payloadOf(token: string): Record<string, unknown> | undefined {
  const segments = token.split('.');
  if (segments.length !== 3 || !/^[\w-]+$/.test(segments[1] as string)) return undefined;
  try {
    const b64 = (segments[1] as string).replace(/-/g, '+').replace(/_/g, '/');
    const bytes = Uint8Array.from(atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4)), (c) => c.charCodeAt(0));
    const payload = JSON.parse(new TextDecoder().decode(bytes)) as unknown;
    return typeof payload === 'object' && payload !== null && !Array.isArray(payload) ? (payload as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The ID token's claims, or `ERR_ID_TOKEN_INVALID` with what is wrong. */
export function idTokenClaims(idToken: unknown, expected: IdTokenExpectation): Record<string, unknown> {
  // OpenID Connect Core §3.1.3.3: with `openid`, the token answer carries an ID token.
  if (typeof idToken !== 'string') throw invalid('the token answer has none, and an openid sign-in must have one');
  const claims = payloadOf(idToken);
  if (claims === undefined) throw invalid('it is not a signed JWT with a JSON payload');
  if (claims.iss !== expected.issuer) throw invalid(`it was issued by ${JSON.stringify(String(claims.iss).slice(0, 200))}, not ${expected.issuer}`);
  const aud = claims.aud;
  const audiences = Array.isArray(aud) ? aud : [aud];
  if (!audiences.includes(expected.clientId)) throw invalid(`its audience is not ${expected.clientId}`);
  if (audiences.length > 1 && claims.azp !== undefined && claims.azp !== expected.clientId) throw invalid(`its authorized party is not ${expected.clientId}`);
  if (typeof claims.exp !== 'number' || claims.exp * 1000 + LEEWAY_MS < expected.now) throw invalid('it has expired');
  if (typeof claims.nonce !== 'string' || !sameText(claims.nonce, expected.nonce)) throw invalid('its nonce is not the one this sign-in sent');
  return claims;
}
