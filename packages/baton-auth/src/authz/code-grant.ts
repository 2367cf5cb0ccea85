/**
 * `grant_type=authorization_code` at `/oauth/token` (RFC 6749 §4.1.3, OAuth 2.1 §4.1.3).
 *
 * Everything about the code is checked before anything is written: the code opened (ours,
 * unchanged, at most 60 s old), issued to the authenticated client, for exactly this
 * `redirect_uri`, the PKCE verifier (RFC 7636 §4.6), and — for a code bound to a DPoP key
 * (`dpop_jkt`, RFC 9449 §10) — a proof by that key, compared before its signature is checked.
 * Then the code's `jti` is spent in the store's one-time ledger and the session opened under the
 * id the code carries. A code presented again is refused and ends the session its first
 * presentation opened (RFC 6749 §4.1.2), its tokens with it. Every code problem is one
 * `invalid_grant` sentence; the exact reason goes to the log, never the code.
 */
import { idTokenKey } from '../core/id-token.ts';
import { parseResources } from '../core/resource.ts';
import type { ClientRecord } from '../http/clients.ts';
import { tokenResponse } from '../http/context.ts';
import type { HandlerContext, RequestContext } from '../http/context.ts';
import { loginProof, nonceHeaders } from '../dpop/token-endpoint.ts';
import type { DpopProof } from '../dpop/proof.ts';
import { httpErrorOf, HttpError } from '../http/respond.ts';
import { covers } from './consent-store.ts';
import { openCode } from './codes.ts';
import type { OpenedCode } from './codes.ts';
import { idToken } from './id-token.ts';
import { verifierMatches } from './pkce.ts';

/** Why a code was refused, for the operator's log. */
type Why =
  | 'not a code of ours, changed or expired'
  | 'issued to another client'
  | 'another redirect_uri'
  | 'PKCE verifier missing or wrong'
  | 'no DPoP proof for a code bound to a key'
  | 'DPoP proof by another key'
  | 'presented again: its session revoked'
  | 'the user withdrew consent since it was issued';

/** A refusal's `reason` in the audit trail. */
const REASON: Record<Why, string> = {
  'not a code of ours, changed or expired': 'invalid_or_expired',
  'issued to another client': 'other_client',
  'another redirect_uri': 'other_redirect_uri',
  'PKCE verifier missing or wrong': 'pkce',
  'no DPoP proof for a code bound to a key': 'dpop_missing',
  'DPoP proof by another key': 'dpop_other_key',
  'presented again: its session revoked': 'reused',
  'the user withdrew consent since it was issued': 'consent_withdrawn',
};

const SENTENCE = 'The authorization code is invalid, expired or already used, or was issued for another client, redirect_uri or code_verifier';

function refused(c: HandlerContext, client: ClientRecord, why: Why, ip: string | undefined): HttpError {
  c.log?.info({ event: 'code.refused', client: client.id.slice(0, 64), why, ...(ip === undefined ? {} : { ip }) }, `authorization code refused: ${why}`);
  // A replay is `code.replayed` (with the user and the session it ended, told where it is found); any other refusal `code.refused`.
  if (why !== 'presented again: its session revoked')
    c.baton.audit({ type: 'code.refused', client: client.id, reason: REASON[why], ...(ip === undefined ? {} : { ip }) });
  return new HttpError('ERR_CODE_INVALID', SENTENCE);
}

/** The code's checks that need no key: client, exact redirect URI (RFC 6749 §4.1.3), PKCE (RFC 7636 §4.6). */
function checkRequest(c: HandlerContext, f: Record<string, string>, client: ClientRecord, code: OpenedCode, ip: string | undefined): void {
  const g = code.grant;
  if (g.clientId !== client.id) throw refused(c, client, 'issued to another client', ip);
  // Exact string comparison, no normalisation (RFC 9700 §4.1.3): the URI the code was sent to.
  if (f.redirect_uri !== g.redirectUri) throw refused(c, client, 'another redirect_uri', ip);
  if (!verifierMatches(f.code_verifier, g.codeChallenge)) throw refused(c, client, 'PKCE verifier missing or wrong', ip);
  // RFC 8707 §2.2: a resource named here must be one the code granted (the tokens are for all of them; a refresh narrows).
  for (const r of parseResourcesOrNone(f.resource))
    if (!g.resource.includes(r)) throw new HttpError('ERR_INVALID_TARGET', `${r.slice(0, 200)} is not a resource this code was granted for`);
  // An ID token must be signable before the code is spent (the ring's signing key is asymmetric).
  if (g.scope.includes('openid')) idTokenKey(c.baton.keys);
}

function parseResourcesOrNone(requested: string | undefined): string[] {
  try {
    return parseResources(requested);
  } catch {
    throw new HttpError('ERR_INVALID_TARGET', 'resource must be an absolute URI without a fragment (RFC 8707 §2)');
  }
}

/**
 * The request's DPoP proof, checked and not spent (`login` spends it): by the code's key when the
 * code is bound (RFC 9449 §10.1) — compared before the signature is checked — and as the client's
 * policy requires (`dpop: 'required'`).
 */
async function codeProof(c: HandlerContext, request: Request, client: ClientRecord, code: OpenedCode, ip: string | undefined): Promise<DpopProof | undefined> {
  const bound = code.grant.dpopJkt;
  if (bound !== undefined && request.headers.get('dpop') === null) throw refused(c, client, 'no DPoP proof for a code bound to a key', ip);
  const proof = await loginProof(c, request, client, async (jkt) => {
    if (bound !== undefined && jkt !== bound) throw refused(c, client, 'DPoP proof by another key', ip);
  });
  // DPoP held back here (the handler's `dpop` option): a proof is ignored, and a bound code cannot be redeemed.
  if (bound !== undefined && proof === undefined) throw refused(c, client, 'no DPoP proof for a code bound to a key', ip);
  return proof;
}

/** The audit trail's record of a code presented again. */
function auditReplay(c: HandlerContext, code: OpenedCode, client: ClientRecord, ip: string | undefined): void {
  c.baton.audit({
    type: 'code.replayed',
    user: code.grant.userId,
    client: client.id,
    session: code.sid,
    reason: 'reused',
    ...(ip === undefined ? {} : { ip }),
  });
}

/**
 * A code presented again (RFC 6749 §4.1.2): the session its first presentation opened is revoked.
 * `done:` settles the race with a first presentation whose session is not written yet: whichever
 * of the two spends it second knows the other got there first — the replay then finds the
 * session to revoke, or the first presentation revokes its own (`confirmFirst`).
 */
async function replayed(c: HandlerContext, code: OpenedCode, client: ClientRecord, ip: string | undefined): Promise<void> {
  auditReplay(c, code, client, ip);
  await c.baton.spendOnce(`code-done:${code.jti}`, code.exp);
  await c.baton.revokeSession(code.sid, { reason: 'reused' });
}

/** Whether the user still allows a third-party client what its code grants (a first-party client needs no consent). */
async function consented(c: HandlerContext, client: ClientRecord, code: OpenedCode): Promise<boolean> {
  if (client.firstParty) return true;
  const given = await c.authz.consents.get(code.grant.userId, client.id);
  return given !== null && covers(given, code.grant.scope, code.grant.resource);
}

/** After the session was opened: false when a replay came first (then the session is ended here). */
async function confirmFirst(c: HandlerContext, code: OpenedCode, client: ClientRecord, ip: string | undefined): Promise<boolean> {
  if (await c.baton.spendOnce(`code-done:${code.jti}`, code.exp)) return true;
  auditReplay(c, code, client, ip);
  await c.baton.revokeSession(code.sid, { reason: 'reused' });
  return false;
}

/** `grant_type=authorization_code` for the authenticated `client`; `f` are the request's fields. */
export async function codeGrant(c: HandlerContext, request: Request, f: Record<string, string>, client: ClientRecord, ctx: RequestContext): Promise<Response> {
  if (!f.code) throw new HttpError('ERR_INVALID_REQUEST', 'code is required');
  if (!f.redirect_uri) throw new HttpError('ERR_INVALID_REQUEST', 'redirect_uri is required: the one of the authorization request');
  const code = await openCode(c, f.code);
  if (code === undefined) throw refused(c, client, 'not a code of ours, changed or expired', ctx.ip);
  checkRequest(c, f, client, code, ctx.ip);
  let jkt: string | undefined;
  try {
    const proof = await codeProof(c, request, client, code, ctx.ip);
    jkt = proof?.jkt;
    // A third-party client's code lives up to 60 s: a consent withdrawn meanwhile ("Apps with access") stops it.
    if (!(await consented(c, client, code))) throw refused(c, client, 'the user withdrew consent since it was issued', ctx.ip);
    // The first write: the code spent, on every instance at once.
    if (!(await c.baton.spendOnce(`code:${code.jti}`, code.exp))) {
      await replayed(c, code, client, ctx.ip);
      throw refused(c, client, 'presented again: its session revoked', ctx.ip);
    }
    const g = code.grant;
    const pair = await c.baton.login(g.userId, {
      clientId: client.id,
      scope: g.scope.join(' '),
      resource: g.resource,
      ...(proof === undefined ? {} : { proof }),
      sessionId: code.sid,
      device: { userAgent: (request.headers.get('user-agent') ?? '').slice(0, 256), ...(ctx.ip === undefined ? {} : { ip: ctx.ip }) },
    });
    if (!(await confirmFirst(c, code, client, ctx.ip))) throw refused(c, client, 'presented again: its session revoked', ctx.ip);
    // Asked again once the session exists: a withdrawal that read the sessions before it was written
    // (DELETE /auth/consents forgets, then ends what it finds) is seen here, and the session ended.
    if (!(await consented(c, client, code))) {
      await c.baton.revokeSession(code.sid, { reason: 'kicked' });
      throw refused(c, client, 'the user withdrew consent since it was issued', ctx.ip);
    }
    c.baton.audit({
      type: 'code.redeemed',
      user: g.userId,
      client: client.id,
      session: pair.session_id,
      scope: g.scope.join(' '),
      ...(ctx.ip === undefined ? {} : { ip: ctx.ip }),
    });
    const fields: Record<string, unknown> = {};
    if (g.scope.includes('openid')) {
      fields.id_token = await idToken(c, {
        userId: g.userId,
        clientId: client.id,
        nonce: g.nonce,
        authTime: g.authTime,
        sid: pair.session_id,
        scope: g.scope,
      });
    }
    return tokenResponse(c, pair, false, nonceHeaders(c, jkt), fields);
  } catch (err) {
    const http = httpErrorOf(err);
    Object.assign(http.headers, nonceHeaders(c, jkt));
    throw http;
  }
}
