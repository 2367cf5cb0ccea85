/**
 * OAuth clients (RFC 6749 §2): who may ask for tokens, with which scopes, and how they prove it.
 * Public clients (a browser page, a CLI) name themselves with `client_id`; confidential clients
 * (a backend, a resource server) also authenticate with a secret, kept here only as a hash.
 * Import from `baton-auth/http`.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { parseResources } from '../core/resource.ts';
import { checkScopes } from '../core/scope.ts';
import { BatonConfigError } from '../core/errors.ts';
import { checkRedirectUri } from '../authz/redirect-uri.ts';

/** A registered client. */
export interface ClientRecord {
  /** The `client_id`. */
  id: string;
  /** `public`: names itself; `confidential`: authenticates with its secret (RFC 6749 §2.1). */
  type: 'public' | 'confidential';
  /** The secret's hash (`hashClientSecret`), confidential clients only. Never the secret itself. */
  secretHash?: string;
  /**
   * The scopes this client may ask for. A login or refresh asking for another gets
   * `invalid_scope`. Absent: the client adds no limit of its own (the user's scopes still do).
   */
  scopes?: string[];
  /** A resource server: may introspect any client's tokens (a confidential client without it sees only its own). */
  introspect?: boolean;
  /**
   * The resources (RFC 8707) this client may ask tokens for, among those the service knows.
   * Absent: every one the service knows.
   */
  resources?: string[];
  /**
   * Grants beyond signing users in and refreshing: `client_credentials` (RFC 6749 §4.4), for a
   * confidential client acting for itself.
   */
  grantTypes?: 'client_credentials'[];
  /**
   * DPoP (RFC 9449): `required` refuses this client's token requests without a proof, so all its
   * sessions and tokens are bound to a key; `allowed` (absent) binds those that carry one.
   */
  dpop?: 'required' | 'allowed';
  /** The exact redirect URIs of the authorization code flow (RFC 6749 §3.1.2); none: no code flow for this client. */
  redirectUris?: string[];
  /** Where OIDC RP-initiated logout may send the browser back to. */
  postLogoutRedirectUris?: string[];
  /**
   * `true`: the service's own application, no consent page. `false`: third-party, said out loud
   * (registered clients, metadata documents): the consent page, and no password login at
   * `/auth/login` (RFC 9700 §2.4). Absent: the consent page, and the password login as before.
   */
  firstParty?: boolean;
  /** Its authorization requests must come through PAR (RFC 9126 §6, `require_pushed_authorization_requests`). */
  requirePar?: boolean;
  /** The name shown on the consent page. */
  name?: string;
}

/**
 * Whether `client` is a third party: it signs users in through the authorization endpoint
 * (`redirectUris`) and is not `firstParty`, so the user allows it scopes on the consent page.
 */
export function isThirdParty(client: ClientRecord): boolean {
  return client.firstParty !== true && (client.redirectUris?.length ?? 0) > 0;
}

/** Where clients come from: a fixed list (`staticClients`) or the standalone service's store. */
export interface ClientRegistry {
  /** The client with this id, or null. */
  get(id: string): Promise<ClientRecord | null>;
  /**
   * Keeps a client registered through RFC 7591 dynamic registration (`POST /oauth/register`).
   * Resolves to false, keeping nothing, when `maxClients` registered clients are kept already
   * (counted atomically, so that parallel registrations cannot pass the cap together).
   * Registries without it take no registrations.
   */
  register?(record: ClientRecord, limits: { maxClients: number }): Promise<boolean>;
}

/**
 * A client's secret as it is kept: `sha256$<salt>$<digest>`. Client secrets are 256-bit random
 * values (`generateClientSecret`), so a salted SHA-256 is enough: a slow hash protects guessable
 * passwords, and there is nothing to guess here.
 */
export function hashClientSecret(secret: string, salt = randomBytes(16).toString('base64url')): string {
  return `sha256$${salt}$${createHash('sha256').update(`${salt}$${secret}`).digest('base64url')}`;
}

/** A new client secret: 32 random bytes, base64url. */
export function generateClientSecret(): string {
  return randomBytes(32).toString('base64url');
}

const DUMMY = hashClientSecret('no such client');

/**
 * Whether `secret` is the one `secretHash` was made from, in constant time; also when there is
 * no hash (an unknown client costs the same work as a known one).
 */
export function checkClientSecret(secret: string, secretHash: string | undefined): boolean {
  const [scheme, salt, digest] = (secretHash ?? DUMMY).split('$') as [string, string, string];
  const expected = Buffer.from(digest ?? '', 'base64url');
  const actual = createHash('sha256').update(`${salt}$${secret}`).digest();
  return scheme === 'sha256' && expected.length === actual.length && timingSafeEqual(expected, actual) && secretHash !== undefined;
}

/** What `staticClients` takes: a confidential client gives its `secret` (hashed at once). */
export interface StaticClient {
  id: string;
  /** Makes the client confidential; at least 32 characters. */
  secret?: string;
  scopes?: string[];
  /** May introspect any client's tokens (confidential clients only). */
  introspect?: boolean;
  /** The resources (RFC 8707) it may ask tokens for; default every one the service knows. */
  resources?: string[];
  /** `['client_credentials']`: may get tokens for itself (confidential clients only). */
  grantTypes?: 'client_credentials'[];
  /** `required`: every token request carries a DPoP proof (RFC 9449); default `allowed`. */
  dpop?: 'required' | 'allowed';
  /** The exact redirect URIs of the authorization code flow (https, http on loopback, or a private-use scheme, RFC 8252 §7). */
  redirectUris?: string[];
  /** Where OIDC RP-initiated logout may send the browser back to. */
  postLogoutRedirectUris?: string[];
  /**
   * `true`: the service's own application, no consent page. `false`: third-party, said out loud
   * (registered clients, metadata documents): the consent page, and no password login at
   * `/auth/login` (RFC 9700 §2.4). Absent: the consent page, and the password login as before.
   */
  firstParty?: boolean;
  /** Its authorization requests must come through PAR (RFC 9126 §6). */
  requirePar?: boolean;
  /** The name shown on the consent page (at most 100 characters). */
  name?: string;
}

/**
 * `resources` as given, if each is an absolute URI without a fragment (RFC 8707 §2); otherwise a
 * `BatonConfigError` naming `setting` and the first entry that is not one. The one check of a
 * configured resource list: `createAuthHandler`'s `resources`, a client's, `BATON_RESOURCES`.
 */
export function checkResources(resources: readonly string[], setting: string): string[] {
  if (!Array.isArray(resources))
    throw new BatonConfigError(`${setting} must be a list of absolute URIs without a fragment (RFC 8707 §2), e.g. ["https://api.example.com"].`);
  for (const r of resources as unknown[]) {
    let ok = typeof r === 'string';
    try {
      if (ok) parseResources([r as string]);
    } catch {
      ok = false;
    }
    if (!ok)
      throw new BatonConfigError(
        `${setting} must list absolute URIs without a fragment (RFC 8707 §2), e.g. https://api.example.com, and ${JSON.stringify(typeof r === 'string' ? r.slice(0, 100) : r)} is not one.`,
      );
  }
  return parseResources(resources);
}

/** A list of redirect URIs, each checked (`checkRedirectUri`). */
function redirectList(uris: unknown, what: string): string[] {
  if (!Array.isArray(uris) || uris.some((u) => typeof u !== 'string')) throw new BatonConfigError(`${what} must be a list of URIs.`);
  return (uris as string[]).map((u) => checkRedirectUri(u, what));
}

/** The authorization code flow's fields of a static client, checked. */
function codeFlowFields(c: StaticClient): Partial<ClientRecord> {
  const out: Partial<ClientRecord> = {};
  if (c.redirectUris !== undefined) out.redirectUris = redirectList(c.redirectUris, `The redirectUris of client ${c.id}`);
  if (c.postLogoutRedirectUris !== undefined)
    out.postLogoutRedirectUris = redirectList(c.postLogoutRedirectUris, `The postLogoutRedirectUris of client ${c.id}`);
  for (const flag of ['firstParty', 'requirePar'] as const) {
    if (c[flag] === undefined) continue;
    if (typeof c[flag] !== 'boolean') throw new BatonConfigError(`Client ${c.id}: ${flag} must be true or false.`);
    if (c[flag]) out[flag] = true;
  }
  // Said out loud, third-party: also kept from the password login (`/auth/login`, RFC 9700 §2.4).
  if (c.firstParty === false) out.firstParty = false;
  if (c.name !== undefined) {
    if (typeof c.name !== 'string' || c.name.trim() === '' || c.name.length > 100)
      throw new BatonConfigError(`Client ${c.id}: name must be 1 to 100 characters.`);
    out.name = c.name;
  }
  return out;
}

/**
 * A fixed list of clients, for an application that knows its clients at start-up.
 * @example
 * ```ts
 * createAuthHandler({ baton, authenticate, clients: staticClients([
 *   { id: 'web', scopes: ['profile', 'orders:read'] },
 *   { id: 'reports', secret: process.env.REPORTS_SECRET!, scopes: ['orders:read'] },
 * ]) });
 * ```
 */
export function staticClients(clients: readonly StaticClient[]): ClientRegistry {
  const byId = new Map<string, ClientRecord>();
  for (const c of clients) {
    if (typeof c.id !== 'string' || c.id === '' || byId.has(c.id))
      throw new BatonConfigError(`Client ids must be unique, non-empty strings (${JSON.stringify(c.id)}).`);
    if (c.secret !== undefined && (typeof c.secret !== 'string' || c.secret.length < 32))
      throw new BatonConfigError(`The secret of client ${c.id} must be at least 32 characters (generate one with \`openssl rand -base64 32\`).`);
    const record: ClientRecord = { id: c.id, type: c.secret === undefined ? 'public' : 'confidential' };
    if (c.secret !== undefined) record.secretHash = hashClientSecret(c.secret);
    if (c.scopes !== undefined) record.scopes = checkScopes(c.scopes, `The scopes of client ${c.id}`);
    if (c.introspect === true) {
      if (c.secret === undefined) throw new BatonConfigError(`Client ${c.id} introspects, so it must be confidential (give it a secret).`);
      record.introspect = true;
    }
    if (c.resources !== undefined) record.resources = checkResources(c.resources, `The resources of client ${c.id}`);
    if (c.grantTypes !== undefined) {
      if (!Array.isArray(c.grantTypes) || c.grantTypes.some((g) => g !== 'client_credentials'))
        throw new BatonConfigError(`Client ${c.id}: grantTypes may only list 'client_credentials'.`);
      if (c.grantTypes.length > 0 && c.secret === undefined)
        throw new BatonConfigError(`Client ${c.id} uses client_credentials, so it must be confidential (give it a secret; RFC 6749 §4.4).`);
      record.grantTypes = [...c.grantTypes];
    }
    if (c.dpop !== undefined) {
      if (c.dpop !== 'required' && c.dpop !== 'allowed') throw new BatonConfigError(`Client ${c.id}: dpop must be 'required' or 'allowed'.`);
      record.dpop = c.dpop;
    }
    Object.assign(record, codeFlowFields(c));
    byId.set(c.id, record);
  }
  return { get: async (id) => byId.get(id) ?? null };
}
