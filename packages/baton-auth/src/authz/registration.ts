/**
 * `POST /oauth/register`: OAuth 2.0 Dynamic Client Registration (RFC 7591), served only when
 * `AuthorizationOptions.registration` is set. Anyone may register (open registration, §3: no
 * initial access token), so every cost is bounded: registrations per address (counted before the
 * body is read), the clients kept (`maxClients`, counted by the registry atomically), the body
 * (the handler's bound), the lists in it. A registered client is never first-party (it gets the
 * consent page) and never gets a grant beyond the authorization code and refresh.
 */
import { randomBytes } from 'node:crypto';
import type { CounterStore } from '../core/counter-store.ts';
import { BatonConfigError, isBatonError } from '../core/errors.ts';
import { checkScopes } from '../core/scope.ts';
import { generateClientSecret, hashClientSecret } from '../http/clients.ts';
import type { ClientRecord, ClientRegistry } from '../http/clients.ts';
import type { HandlerContext, Route } from '../http/context.ts';
import { budgetAddress } from '../http/login-protection.ts';
import { memoryCounters, StoreRateLimiter } from '../http/rate-limit.ts';
import { HttpError, json, readBody } from '../http/respond.ts';
import { checkRedirectUri } from './redirect-uri.ts';

/** `AuthorizationOptions.registration`: open dynamic registration (RFC 7591). */
export interface RegistrationOptions {
  /** At most this many clients registered this way (1 to 1,000,000); a registration past it gets 400 `invalid_client_metadata`. */
  maxClients: number;
  /** Registrations from one address (an IPv6 /48 counts as one: a site's allocation) within `windowMs`. Default 10 an hour. */
  perAddress?: { max: number; windowMs: number };
  /** Where the per-address counters live, shared by every instance on it. Default this process's memory. */
  store?: Pick<CounterStore, 'hitCounter' | 'getCounter' | 'deleteCounter'>;
  /** The clock of those counters, ms since the epoch. Default `Date.now`. */
  now?: () => number;
}

/** The options checked, as the route uses them. */
export interface Registration {
  maxClients: number;
  limiter: StoreRateLimiter;
  register: NonNullable<ClientRegistry['register']>;
}

const URIS_MAX = 20;
const NAME_MAX = 100;
const METHODS = ['none', 'client_secret_basic', 'client_secret_post'] as const;
const GRANTS = new Set(['authorization_code', 'refresh_token']);

/**
 * Whether `name` is fit to be shown as a client's name: 1 to `max` characters, not blank, and
 * without control or format characters (Unicode Cc, Cf: bidirectional overrides, zero-width
 * joiners), which would let a name reorder or hide the page's own words around it.
 */
export function displayableName(name: unknown, max: number): name is string {
  return typeof name === 'string' && name.trim() !== '' && name.length <= max && !/[\p{Cc}\p{Cf}]/u.test(name);
}

/** Checks the options against the registry; a mistake is a BatonConfigError with a sentence. */
export function checkRegistration(options: RegistrationOptions, clients: ClientRegistry): Registration {
  const { maxClients } = options;
  if (!Number.isInteger(maxClients) || maxClients < 1 || maxClients > 1_000_000)
    throw new BatonConfigError(`registration.maxClients must be a whole number from 1 to 1000000, not ${JSON.stringify(maxClients)}.`);
  if (clients.register === undefined)
    throw new BatonConfigError('registration needs a clients registry that keeps registered clients (one with register(); staticClients has none).');
  const per = options.perAddress ?? { max: 10, windowMs: 3_600_000 };
  if (!Number.isInteger(per.max) || per.max < 1 || !Number.isInteger(per.windowMs) || per.windowMs < 1000)
    throw new BatonConfigError('registration.perAddress must be { max: at least 1, windowMs: at least 1000 }.');
  const limiter = new StoreRateLimiter({
    store: options.store ?? memoryCounters(),
    keyPrefix: 'register',
    points: per.max,
    duration: per.windowMs / 1000,
    ...(options.now ? { now: options.now } : {}),
  });
  return { maxClients, limiter, register: clients.register.bind(clients) };
}

/**
 * What registrations are counted by: an IPv4 address, or the /48 of an IPv6 one. Not the /64 of
 * login protection: an ISP gives a site a /56 or a /48 (RIPE-690), so one home connection would
 * have 256 budgets (a tunnel broker's /48, 65,536) and fill `maxClients`, kept forever, alone.
 */
export function registrationAddress(ip: string): string {
  const address = budgetAddress(ip);
  return address.endsWith('::/64') ? `${address.split(':').slice(0, 3).join(':')}::/48` : address;
}

/** The RFC 7591 §3.2.2 error answer. */
function refuse(error: 'invalid_redirect_uri' | 'invalid_client_metadata', description: string): Response {
  return json({ error, error_description: description }, 400, { 'cache-control': 'no-store', pragma: 'no-cache' });
}

class Invalid extends Error {
  readonly error: 'invalid_redirect_uri' | 'invalid_client_metadata';
  constructor(error: Invalid['error'], message: string) {
    super(message);
    this.error = error;
  }
}

/** A list of redirect URIs from the request, each checked (RFC 6749 §3.1.2, RFC 8252 §7). */
function uris(value: unknown, name: string, required: boolean): string[] | undefined {
  if (value === undefined && !required) return undefined;
  if (!Array.isArray(value) || value.length === 0 || value.length > URIS_MAX || value.some((u) => typeof u !== 'string'))
    throw new Invalid('invalid_redirect_uri', `${name} must be a list of 1 to ${URIS_MAX} URIs`);
  try {
    return value.map((u: string) => checkRedirectUri(u, `The ${name} entry`));
  } catch (err) {
    throw new Invalid('invalid_redirect_uri', isBatonError(err) ? err.message : `${name} has an entry that is not a valid redirect URI`);
  }
}

/** The client the metadata asks for (RFC 7591 §2), unknown members ignored as §2 says; throws `Invalid`. */
export function clientOfRegistration(m: Record<string, unknown>, id: string): { client: ClientRecord; method: (typeof METHODS)[number]; grants: string[] } {
  const redirectUris = uris(m.redirect_uris, 'redirect_uris', true) as string[];
  // §2: the default method is client_secret_basic.
  const method = (m.token_endpoint_auth_method ?? 'client_secret_basic') as (typeof METHODS)[number];
  if (!METHODS.includes(method)) throw new Invalid('invalid_client_metadata', `token_endpoint_auth_method must be one of ${METHODS.join(', ')}`);
  const grants = m.grant_types ?? ['authorization_code'];
  if (!Array.isArray(grants) || grants.length === 0 || grants.length > 2 || grants.some((g) => !GRANTS.has(g as string)))
    throw new Invalid('invalid_client_metadata', 'grant_types may list authorization_code and refresh_token only');
  const types = m.response_types ?? ['code'];
  if (!Array.isArray(types) || types.length !== 1 || types[0] !== 'code') throw new Invalid('invalid_client_metadata', 'response_types may list code only');
  // Whatever else the body says (a `firstParty`, `first_party`, `introspect` …), a registered client gets the consent page.
  const client: ClientRecord = { id, type: method === 'none' ? 'public' : 'confidential', firstParty: false, redirectUris };
  const logout = uris(m.post_logout_redirect_uris, 'post_logout_redirect_uris', false);
  if (logout !== undefined) client.postLogoutRedirectUris = logout;
  if (m.client_name !== undefined) {
    if (!displayableName(m.client_name, NAME_MAX))
      throw new Invalid('invalid_client_metadata', `client_name must be a string of 1 to ${NAME_MAX} characters, without control or format characters`);
    client.name = m.client_name.trim();
  }
  if (m.scope !== undefined) {
    try {
      if (typeof m.scope !== 'string' || m.scope.length > 1000) throw new Error('scope');
      client.scopes = checkScopes(m.scope.split(' ').filter(Boolean), 'scope');
    } catch {
      throw new Invalid('invalid_client_metadata', 'scope must be space-separated scope names (RFC 6749 §3.3)');
    }
  }
  return { client, method, grants: [...new Set(grants as string[])] };
}

/** The §3.2.1 answer: the client's metadata as registered, its secret once. */
function registered(client: ClientRecord, method: string, grants: string[], secret: string | undefined, issuedAt: number): Response {
  const body: Record<string, unknown> = {
    client_id: client.id,
    client_id_issued_at: issuedAt,
    ...(secret === undefined ? {} : { client_secret: secret, client_secret_expires_at: 0 }),
    redirect_uris: client.redirectUris,
    token_endpoint_auth_method: method,
    grant_types: grants,
    response_types: ['code'],
  };
  if (client.postLogoutRedirectUris) body.post_logout_redirect_uris = client.postLogoutRedirectUris;
  if (client.name !== undefined) body.client_name = client.name;
  if (client.scopes !== undefined) body.scope = client.scopes.join(' ');
  return json(body, 201, { 'cache-control': 'no-store', pragma: 'no-cache' });
}

/** `POST /oauth/register`. */
export function registration(c: HandlerContext, r: Registration): Route {
  return {
    POST: async (request, ctx) => {
      // §3: the request is JSON (checked before anything is counted or read).
      if ((request.headers.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase() !== 'application/json')
        throw new HttpError('ERR_INVALID_REQUEST', 'Send the client metadata as application/json (RFC 7591 §3.1)');
      try {
        await r.limiter.consume(registrationAddress(ctx.ip ?? 'unknown'));
      } catch (res) {
        if (res instanceof Error) throw res;
        const seconds = Math.max(1, Math.ceil((res as { msBeforeNext: number }).msBeforeNext / 1000));
        // RFC 6585 §4: 429 with Retry-After.
        throw new HttpError('ERR_RATE_LIMITED', `Too many registrations from this address: try again in ${Math.ceil(seconds / 60)} minutes`, {
          headers: { 'retry-after': String(seconds) },
        });
      }
      let metadata: unknown;
      try {
        metadata = JSON.parse(await readBody(request, c.maxBodyBytes));
      } catch (err) {
        if (err instanceof HttpError) throw err;
        return refuse('invalid_client_metadata', 'The body is not JSON');
      }
      if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata))
        return refuse('invalid_client_metadata', 'The body must be a JSON object');
      let made: ReturnType<typeof clientOfRegistration>;
      try {
        made = clientOfRegistration(metadata as Record<string, unknown>, `dyn_${randomBytes(16).toString('base64url')}`);
      } catch (err) {
        if (err instanceof Invalid) return refuse(err.error, err.message);
        throw err;
      }
      const { client, method, grants } = made;
      const secret = client.type === 'confidential' ? generateClientSecret() : undefined;
      if (secret !== undefined) client.secretHash = hashClientSecret(secret);
      if (!(await r.register(client, { maxClients: r.maxClients })))
        return refuse('invalid_client_metadata', 'This server takes no more registrations; ask whoever runs it');
      c.log?.info({ event: 'client.registered', client: client.id, type: client.type }, 'client registered');
      c.baton.audit({ type: 'client.registered', client: client.id, actor: 'registration', ...(ctx.ip === undefined ? {} : { ip: ctx.ip }) });
      return registered(client, method, grants, secret, Math.floor(c.baton.now() / 1000));
    },
  };
}
