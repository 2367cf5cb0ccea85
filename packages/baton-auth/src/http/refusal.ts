/**
 * The refusals a guard sends, in framework-neutral form: RFC 6750 §3 challenges, and the
 * transient answers (429, 503) that keep a client's credentials because nothing was lost.
 */

import { oauthDescription } from '../protocol/oauth-error.ts';
import type { HttpError } from './respond.ts';

const JSON_TYPE = 'application/json; charset=utf-8';

/** An HTTP refusal: status, headers and an RFC 6749 §5.2-shaped body (with extension members such as `session_end`). */
export class Refusal {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: { error: string; error_description: string; [member: string]: unknown };

  constructor(status: number, headers: Record<string, string>, error: string, description: string, members: Record<string, unknown> = {}) {
    this.status = status;
    this.headers = headers;
    this.body = { error, error_description: oauthDescription(description), ...members };
  }
}

/** What a challenge may carry besides its error (RFC 6750 §3, RFC 9728 §5.1, RFC 9449 §7.1). */
export interface ChallengeParams {
  scope?: string;
  /**
   * The DPoP proof algorithms the resource accepts (RFC 9449 §7.1 `algs`): a `DPoP` challenge
   * follows the Bearer one (or replaces it, with `scheme: 'DPoP'`).
   */
  dpopAlgs?: string;
  /** The scheme the request used, when it was `DPoP`: the error is that challenge's. */
  scheme?: 'DPoP';
  /** The URL of the protected resource's metadata (RFC 9728 `resource_metadata`). */
  resourceMetadata?: string;
  /** Body members beyond `error` and `error_description`. */
  members?: Record<string, unknown>;
}

/**
 * A refusal with a Bearer challenge (RFC 6750 §3): without an error code when the request carried
 * no credentials of this scheme (§3.1), with it otherwise.
 */
export function challenge(status: number, error: string | undefined, description: string, params: ChallengeParams = {}): Refusal {
  const parts = params.scheme === 'DPoP' ? [`algs="${params.dpopAlgs ?? ''}"`] : ['realm="baton"'];
  if (error) parts.push(`error="${error}"`, `error_description="${oauthDescription(description)}"`);
  if (params.scope) parts.push(`scope="${params.scope}"`);
  if (params.resourceMetadata) parts.push(`resource_metadata="${params.resourceMetadata}"`);
  let value = `${params.scheme ?? 'Bearer'} ${parts.join(', ')}`;
  if (params.scheme === undefined && params.dpopAlgs !== undefined) value += `, DPoP algs="${params.dpopAlgs}"`;
  const headers: Record<string, string> = { 'www-authenticate': value, 'cache-control': 'no-store', 'content-type': JSON_TYPE };
  return new Refusal(status, headers, error ?? 'invalid_request', description, params.members);
}

/** A refusal without a challenge (403 cross-site, a malformed cookie). */
export function plain(status: number, error: string, description: string): Refusal {
  return new Refusal(status, { 'content-type': JSON_TYPE }, error, description);
}

/**
 * Whether an error's answer keeps the client's credentials: nothing is wrong with them — a store
 * or issuer away (503), a rate limit (429), the server's own fault (500).
 */
export function keepsCredentials(err: HttpError): boolean {
  return err.status === 429 || err.status >= 500;
}

/** The refusal of an error as `httpErrorOf` maps it, with its `Retry-After` (a transient one) and body members. */
export function refusalOf(err: HttpError): Refusal {
  return new Refusal(err.status, { ...err.headers, 'content-type': JSON_TYPE }, err.error, err.description, err.members);
}
