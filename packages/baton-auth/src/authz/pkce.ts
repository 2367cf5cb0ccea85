/**
 * PKCE (RFC 7636), required of every client (OAuth 2.1 §4.1.1, RFC 9700 §2.1.1): the challenge an
 * authorization request carries, and the verifier the token request proves it with. `S256` only:
 * `plain` shows the verifier to whoever sees the authorization request (RFC 7636 §7.2).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { HttpError } from '../http/respond.ts';

/** RFC 7636 §4.2: BASE64URL(SHA-256(verifier)) is 43 characters of the base64url alphabet, no padding. */
const CHALLENGE = /^[A-Za-z0-9_-]{43}$/;
/** RFC 7636 §4.1: 43 to 128 unreserved characters. */
const VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;

/**
 * `challenge` if it is a valid `S256` code challenge, else `invalid_request` (an `HttpError`) with
 * the sentence to show: missing, `plain` or another method, or not 43 base64url characters.
 */
export function checkChallenge(challenge: string | undefined, method: string | undefined): string {
  if (challenge === undefined || challenge === '') throw new HttpError('ERR_INVALID_REQUEST', 'code_challenge is required (PKCE, RFC 7636)');
  if (method === undefined) throw new HttpError('ERR_INVALID_REQUEST', 'code_challenge_method is required and must be S256 (RFC 7636 §4.3)');
  if (method !== 'S256') throw new HttpError('ERR_INVALID_REQUEST', 'code_challenge_method must be S256; plain is not accepted (RFC 7636 §7.2)');
  if (!CHALLENGE.test(challenge))
    throw new HttpError('ERR_INVALID_REQUEST', 'code_challenge must be 43 base64url characters: BASE64URL(SHA-256(code_verifier)) (RFC 7636 §4.2)');
  return challenge;
}

/** The S256 challenge of `verifier` (RFC 7636 §4.2). */
export function s256(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url');
}

/**
 * Whether `verifier` is a well-formed code verifier (RFC 7636 §4.1) whose S256 challenge is
 * `challenge`, compared in constant time (§4.6).
 */
export function verifierMatches(verifier: string | undefined, challenge: string): boolean {
  if (typeof verifier !== 'string' || !VERIFIER.test(verifier) || !CHALLENGE.test(challenge)) return false;
  return timingSafeEqual(Buffer.from(s256(verifier)), Buffer.from(challenge));
}
