/**
 * The options of `createPasskeys`, checked when it is made: a relying party ID that is a domain,
 * origins on it, the bounds.
 */
import { BatonConfigError } from '../core/errors.ts';
import { toMs } from '../core/duration.ts';
import type { Duration } from '../core/duration.ts';
import type { Baton } from '../core/baton.ts';
import type { BatonStore } from '../stores/types.ts';

/** Options of `createPasskeys`. */
export interface PasskeyOptions {
  /** The engine: its keys seal the challenges, its clock times them, its audit trail hears of passkeys. */
  baton: Baton;
  /** Where the passkeys are kept (records `passkeys:<user id>`) and challenges are spent (the one-time ledger). */
  store: BatonStore;
  /**
   * The relying party ID (WebAuthn L3 §5.1.4): the domain passkeys are made for, e.g. `example.com`
   * — the origins' host or a parent domain of it. A passkey made for another is refused.
   */
  rpId: string;
  /** The origins ceremonies may come from, exactly as a browser sends them, e.g. `https://auth.example.com`. */
  origins: readonly string[];
  /** The name authenticators show for the relying party. Default the RP ID. */
  rpName?: string;
  /** The most passkeys one user may have: 1 to 100, default 20. */
  maxPerUser?: number;
  /** How long a ceremony's challenge lives: 30 s to 10 min, default 5 min. Seconds or a duration string. */
  challengeTtl?: Duration;
}

/** The options resolved. */
export interface ResolvedPasskeyOptions {
  baton: Baton;
  store: BatonStore;
  rpId: string;
  rpName: string;
  origins: readonly string[];
  maxPerUser: number;
  challengeTtlMs: number;
}

/** A domain name as WebAuthn's RP ID must be one (a valid domain string, lower case): no scheme, port, path or IP address. */
const DOMAIN = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;
const IPV4 = /^\d+\.\d+\.\d+\.\d+$/;

/** Whether `host` is `rpId` or a subdomain of it (WebAuthn L3 §5.1.4.1: a registrable domain suffix of the origin's effective domain). */
const onRp = (host: string, rpId: string): boolean => host === rpId || host.endsWith(`.${rpId}`);

/** Whether an http origin is on this machine (a secure context without TLS: `localhost` and its subdomains). */
const loopbackHost = (host: string): boolean => host === 'localhost' || host.endsWith('.localhost');

/**
 * Checks a relying party ID and its origins; each mistake is a sentence naming `names.rpId` or
 * `names.origins` (the service passes its settings' names).
 */
export function checkPasskeyConfig(rpId: unknown, origins: unknown, names = { rpId: 'rpId', origins: 'origins' }): { rpId: string; origins: string[] } {
  if (typeof rpId !== 'string' || !DOMAIN.test(rpId) || IPV4.test(rpId))
    throw new BatonConfigError(
      `${names.rpId} must be a domain name in lower case, such as example.com or localhost (no scheme, port or path; not an IP address), not ${JSON.stringify(String(rpId).slice(0, 100))}.`,
    );
  if (!Array.isArray(origins) || origins.length === 0)
    throw new BatonConfigError(`${names.origins} must name at least one origin the sign-in pages are served from, e.g. https://${rpId}.`);
  const out: string[] = [];
  for (const origin of origins) {
    const url = typeof origin === 'string' ? URL.parse(origin) : null;
    if (url === null || url.origin !== origin)
      throw new BatonConfigError(
        `${names.origins}: ${JSON.stringify(String(origin).slice(0, 100))} is not an origin as a browser sends it (scheme://host[:port], no path or trailing slash).`,
      );
    if (!(url.protocol === 'https:' || (url.protocol === 'http:' && loopbackHost(url.hostname))))
      throw new BatonConfigError(`${names.origins}: ${origin} must be https (plain http only on localhost): browsers offer passkeys only to secure origins.`);
    if (!onRp(url.hostname, rpId))
      throw new BatonConfigError(
        `${names.origins}: ${origin} is not on the relying party ID ${rpId} (its host must be ${rpId} or end in .${rpId}); change ${names.rpId} or the origin.`,
      );
    out.push(origin);
  }
  return { rpId, origins: out };
}

/** Resolves and checks `PasskeyOptions` (a `BatonConfigError` with a sentence otherwise). */
export function resolvePasskeyOptions(o: PasskeyOptions): ResolvedPasskeyOptions {
  if (typeof o !== 'object' || o === null || o.baton === undefined || o.store === undefined)
    throw new BatonConfigError('createPasskeys needs `{ baton, store, rpId, origins }`.');
  const { rpId, origins } = checkPasskeyConfig(o.rpId, o.origins);
  const maxPerUser = o.maxPerUser ?? 20;
  if (!Number.isInteger(maxPerUser) || maxPerUser < 1 || maxPerUser > 100)
    throw new BatonConfigError('createPasskeys: maxPerUser must be a whole number from 1 to 100.');
  const challengeTtlMs = toMs(o.challengeTtl ?? 300, 'challengeTtl');
  if (challengeTtlMs < 30_000 || challengeTtlMs > 600_000) throw new BatonConfigError('createPasskeys: challengeTtl must be between 30 s and 10 min.');
  const rpName = o.rpName ?? rpId;
  if (typeof rpName !== 'string' || rpName.length === 0 || rpName.length > 64) throw new BatonConfigError('createPasskeys: rpName must be 1 to 64 characters.');
  return { baton: o.baton, store: o.store, rpId, rpName, origins, maxPerUser, challengeTtlMs };
}
