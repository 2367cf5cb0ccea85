/**
 * DPoP at the token endpoints (RFC 9449 §5): the proof of a login, refresh, `client_credentials`
 * or revocation request, checked with a server nonce (§8), and each client's policy — `required`
 * refuses its requests without a proof, `allowed` (the default) binds when one comes. Invalid
 * proofs are counted per address (`createDpopProtection`); an address over its budget has its
 * proofs refused unread until the block ends (429 `slow_down`, `Retry-After`).
 */
import type { DpopProof } from '../core/dpop.ts';
import { isBatonError } from '../core/errors.ts';
import { RefreshTokenCodec } from '../core/refresh-token.ts';
import type { CounterStore } from '../stores/types.ts';
import type { ClientRecord } from './clients.ts';
import type { HandlerContext } from './context.ts';
import { budgetAddress, createLoginProtection } from './login-protection.ts';
import type { LoginProtection } from './login-protection.ts';
import { HttpError } from './respond.ts';

/** Invalid DPoP proofs an address may send per hour; then its proofs are refused for the hour. */
export const DPOP_FAILURES_PER_IP = { max: 100, windowMs: 3_600_000 } as const;

/**
 * The counters of invalid DPoP proofs: per address only (an IPv6 address as its /64), `max` a
 * `windowMs`, then the address is refused for `windowMs`; with `store`, shared by every instance.
 * The login protection's counters (`createLoginProtection`) under the prefix `dpop`.
 */
export function createDpopProtection(options: { store?: CounterStore; now?: () => number; failuresPerIp?: { max: number; windowMs: number } } = {}): LoginProtection {
  return createLoginProtection({
    ...(options.store === undefined ? {} : { store: options.store }),
    ...(options.now === undefined ? {} : { now: options.now }),
    keyPrefix: 'dpop',
    failures: false,
    failuresPerIp: options.failuresPerIp ?? DPOP_FAILURES_PER_IP,
  });
}

/**
 * Addresses whose proofs are refused, until when (ms since the epoch), as the counters said when
 * one of their proofs failed: their next proofs cost neither a check nor a store read. The counters
 * stay the authority: an entry is believed for a minute (so that `baton limits reset` reaches every
 * instance within one), and dropping one at the bound costs one more check before it is learnt again.
 */
const refusedUntil = new WeakMap<LoginProtection, Map<string, { until: number; learnt: number }>>();
const REFUSED_MAX = 10_000;
const REFUSED_BELIEVED_MS = 60_000;

function refusedAddresses(protection: LoginProtection): Map<string, { until: number; learnt: number }> {
  let map = refusedUntil.get(protection);
  if (map === undefined) refusedUntil.set(protection, (map = new Map()));
  return map;
}

function tooManyInvalidProofs(ms: number): HttpError {
  return new HttpError(429, 'slow_down', 'Too many invalid DPoP proofs from this address; try again later', { 'retry-after': String(Math.ceil(ms / 1000)) });
}

/**
 * The request's proof, checked for `client` from address `ip` (the one the adapter resolved), or
 * undefined when it carries none. `spend: false` leaves its `jti` for the caller to spend once the
 * request is otherwise sound. An invalid proof is counted against the address.
 */
async function checkedProof(c: HandlerContext, request: Request, client: ClientRecord, ip: string, o: { spend: boolean; requireNonce?: boolean }): Promise<DpopProof | undefined> {
  const header = request.headers.get('dpop');
  if (header === null) return undefined;
  const refused = refusedAddresses(c.dpopProtection);
  const address = budgetAddress(ip);
  const known = refused.get(address);
  if (known !== undefined) {
    const now = Date.now();
    if (known.until > now && now - known.learnt < REFUSED_BELIEVED_MS) throw tooManyInvalidProofs(known.until - now);
    refused.delete(address);
  }
  try {
    return await c.baton.checkProof(header, { method: request.method, url: serviceUrls(c, request), spend: o.spend, ...(o.requireNonce === undefined ? {} : { requireNonce: o.requireNonce }) });
  } catch (err) {
    // A nonce to use is the usual first answer, not a failure.
    if (!isBatonError(err) || err.code !== 'ERR_DPOP_INVALID') throw err;
    const attempt = await c.dpopProtection.check(client.id, ip);
    const blocked = attempt.retryAfterMs > 0 ? attempt.retryAfterMs : await attempt.failed();
    if (blocked <= 0) throw err;
    const now = Date.now();
    if (refused.size >= REFUSED_MAX) {
      for (const [a, t] of refused) if (t.until <= now || now - t.learnt >= REFUSED_BELIEVED_MS) refused.delete(a);
      if (refused.size >= REFUSED_MAX) refused.delete(refused.keys().next().value as string);
    }
    refused.set(address, { until: now + blocked, learnt: now });
    throw tooManyInvalidProofs(blocked);
  }
}

function assertPolicy(request: Request, client: ClientRecord): void {
  if (request.headers.get('dpop') === null && client.dpop === 'required') {
    throw new HttpError(400, 'invalid_dpop_proof', `Client ${client.id} must send a DPoP proof with each token request (RFC 9449 §5)`);
  }
}

/**
 * The thumbprint of the key of `request`'s DPoP proof, checked and spent, or undefined when it
 * carries none and its client allows that. Its `htu` is the endpoint's advertised URL (`serviceUrls`).
 * Call it once everything else about the request was checked.
 */
export async function proofKey(c: HandlerContext, request: Request, client: ClientRecord, ip: string): Promise<string | undefined> {
  assertPolicy(request, client);
  return (await checkedProof(c, request, client, ip, { spend: true }))?.jkt;
}

/** `proofKey`'s proof, not spent: for `refresh`, which spends it just before rotating. */
export async function unspentProof(c: HandlerContext, request: Request, client: ClientRecord, ip: string): Promise<DpopProof | undefined> {
  assertPolicy(request, client);
  return checkedProof(c, request, client, ip, { spend: false });
}

/**
 * A client that requires DPoP refreshes bound sessions only: one opened before the policy (or by
 * the application's own `baton.login`) would keep handing it refresh tokens a copy can use.
 */
export function assertBound(client: ClientRecord, refreshToken: string): void {
  if (client.dpop === 'required' && RefreshTokenCodec.sessionOf(refreshToken)?.bound === false) {
    throw new HttpError(400, 'invalid_grant', `Client ${client.id} requires DPoP and this session is not bound to a key: sign in again with a DPoP proof`);
  }
}

/**
 * The thumbprint of the key of a revocation's proof, if it carries one: checked, with no nonce
 * asked for, and never spent — a revocation needs no proof (RFC 7009 §2.1), so replaying one
 * grants nothing that sending none would not, and a revocation writes no ledger row.
 */
export async function revocationProofKey(c: HandlerContext, request: Request, client: ClientRecord, ip: string): Promise<string | undefined> {
  return (await checkedProof(c, request, client, ip, { spend: false, requireNonce: false }))?.jkt;
}

/** The names of this machine, as URLs spell their hosts. */
export const LOOPBACK: ReadonlySet<string> = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * The URLs the service's own endpoint `request` is known by, for DPoP's `htu`: under the issuer's
 * origin, as its metadata advertises them — never under a Host header a client chose — and, for
 * an issuer on loopback (development), under the loopback origin the request came to.
 */
export function serviceUrls(c: HandlerContext, request: Request): string[] {
  const url = new URL(request.url);
  const issuer = new URL(c.issuer);
  const urls = [`${issuer.origin}${url.pathname}`];
  if (LOOPBACK.has(issuer.hostname) && LOOPBACK.has(url.hostname) && url.origin !== issuer.origin) urls.push(`${url.origin}${url.pathname}`);
  return urls;
}

/** The headers of a response to a request with a proof: the nonce for the next one (RFC 9449 §8.2). */
export function nonceHeaders(c: HandlerContext, jkt: string | undefined): Record<string, string> {
  return jkt === undefined ? {} : { 'dpop-nonce': c.baton.dpopNonce() };
}
