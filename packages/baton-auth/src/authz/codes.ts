/**
 * Authorization codes (RFC 6749 §4.1.2): sealed, not stored — the code is the grant itself,
 * encrypted and authenticated under the engine's refresh keys (`seal.ts`, purpose `code`), valid
 * at most 60 s (RFC 6749 §4.1.2 recommends 10 minutes at most; OAuth 2.1 §4.1.2 and RFC 9700 keep
 * it short), with a random `jti` that the token grant spends once in the store's one-time ledger,
 * and the id of the session its redemption opens, so that a second presentation can end that
 * session (RFC 6749 §4.1.2: "SHOULD revoke (when possible) all tokens previously issued based on
 * that authorization code").
 */
import { randomBytes } from 'node:crypto';
import type { Baton } from '../core/baton.ts';
import { BatonError } from '../core/errors.ts';
import { userTag } from '../core/session-id.ts';
import type { HandlerContext } from '../http/context.ts';
import { createSealer } from './seal.ts';
import type { Sealer } from './seal.ts';

/** What an authorization code grants, as the authorization endpoint decided it. */
export interface CodeGrant {
  clientId: string;
  /** The redirect URI of the authorization request, as it was presented (and matched). */
  redirectUri: string;
  /** The S256 PKCE challenge (RFC 7636 §4.2). */
  codeChallenge: string;
  /** RFC 9449 §10: the thumbprint of the DPoP key the token request's proof must be signed by. */
  dpopJkt?: string;
  userId: string;
  scope: string[];
  resource: string[];
  /** OIDC Core §3.1.2.1: echoed in the ID token. */
  nonce?: string;
  /** When the user signed in, epoch seconds (OIDC `auth_time`). */
  authTime: number;
}

/** A code as opened: its grant, its one-time id, its expiry (ms) and the session its redemption opens. */
export interface OpenedCode {
  grant: CodeGrant;
  jti: string;
  /** The id of the session the redemption opens: the user's tag and 13 random bytes (`core/session-id.ts`). */
  sid: string;
  /** Epoch ms. */
  exp: number;
}

/** The longest a code lives, in ms (the bound of `codeTtl`). */
export const MAX_CODE_TTL_MS = 60_000;

const sealers = new WeakMap<Baton, Sealer>();

/** The one sealer of `baton` (its derived keys cached once for every endpoint). */
export function sealerOf(baton: Baton): Sealer {
  let sealer = sealers.get(baton);
  if (sealer === undefined) {
    sealer = createSealer(baton);
    sealers.set(baton, sealer);
  }
  return sealer;
}

/**
 * A new authorization code for `grant`: sealed (purpose `code`), valid `ttlMs` (at most 60 s,
 * the default), with a random `jti` and the id of the session its redemption will open.
 */
export async function issueCode(c: HandlerContext, grant: CodeGrant, ttlMs: number = MAX_CODE_TTL_MS): Promise<string> {
  if (!(ttlMs > 0 && ttlMs <= MAX_CODE_TTL_MS))
    throw new BatonError('ERR_INVALID_ARGUMENT', `issueCode: the code's lifetime must be 1 to ${MAX_CODE_TTL_MS} ms`);
  const exp = c.baton.now() + ttlMs;
  const body: OpenedCode = {
    grant,
    jti: randomBytes(16).toString('base64url'),
    sid: userTag(grant.userId) + randomBytes(13).toString('base64url'),
    exp,
  };
  return sealerOf(c.baton).seal('code', body, ttlMs);
}

/**
 * The code's content if `code` is one of ours, unchanged and unexpired (at most 60 s from issue);
 * undefined otherwise. Nothing is spent: the token grant checks the request against it first.
 */
export async function openCode(c: HandlerContext, code: string): Promise<OpenedCode | undefined> {
  const opened = await sealerOf(c.baton).open<OpenedCode>('code', code);
  if (opened === undefined || typeof opened.exp !== 'number' || opened.exp - c.baton.now() > MAX_CODE_TTL_MS) return undefined;
  return opened;
}
