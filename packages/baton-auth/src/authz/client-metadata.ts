/**
 * Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document, formerly
 * draft-parecki-…; the MCP authorization spec's way for a client to name itself without
 * registering): a `client_id` that is an `https://` URL is the address of a JSON document that
 * describes the client. Baton fetches one only on a host the operator listed, and bounds every cost
 * a caller can cause: the time and bytes of one fetch, the fetches in flight (one per URL, a cap
 * overall — past it a new id is refused at once, nothing queues), and the cache (an LRU of a
 * bounded size, each answer kept a bounded time, refusals too so a broken id is not fetched at
 * every request). Import from `baton-auth/http`.
 *
 * Hosts are exact names, never `*.example.com`: the host is the only identity a consent page can
 * show for such a client, and a wildcard hands it to whoever controls any subdomain (user pages
 * on a shared host, a forgotten DNS record), a takeover the operator never sees in the list.
 */
import { LRUCache } from 'lru-cache';
import { BatonConfigError } from '../core/errors.ts';
import { checkScopes } from '../core/scope.ts';
import type { ClientRecord, ClientRegistry } from '../http/clients.ts';
import type { Logger } from '../http/context.ts';
import { boundedText } from '../protocol/bounded-text.ts';
import { checkRedirectUri } from './redirect-uri.ts';
import { displayableName } from './registration.ts';

/** Options of `clientMetadataDocuments` (`AuthorizationOptions.clientMetadataDocuments`). */
export interface ClientMetadataOptions {
  /** The hosts whose documents are trusted, exact (`apps.example.com`, or `apps.example.com:8443` for another port than 443). */
  hosts: string[];
  /** How long one fetch may take, headers and body, in ms. Default 5,000; at most 30,000. */
  timeoutMs?: number;
  /** The largest document in bytes. Default 5,120 (the draft suggests 5 KB); at most 65,536. */
  maxBytes?: number;
  /** How many documents are remembered, and as many refusals apart (a flood of refusals never pushes a document out). Default 1,000; at most 100,000. */
  cacheSize?: number;
  /**
   * How long a document is remembered at most, in ms. Default 5 min; at most 1 day. Its
   * `Cache-Control` (`max-age`, `no-store`, `no-cache`) may shorten it, never below 10 s (or `ttlMs`
   * if shorter): a document is never fetched more often than that. A refusal: a tenth of it, at least 10 s.
   */
  ttlMs?: number;
  /** Fetches of new ids in flight at once, across every URL (a known client's document fetched again is not held back by it). Default 8; at most 256. */
  maxInFlight?: number;
  /**
   * The fetch to use (default the global one). For a proxy, or a test's own trust store: the
   * rules (https only, a listed host, no redirect, the bounds) are applied whatever it is.
   */
  fetch?: typeof fetch;
  /** Where a refused document's reason is written (never the document). */
  logger?: Logger;
}

/** One document: the client it describes, or the reason it was refused. */
type Outcome = { client: ClientRecord; freshMs?: number } | { refused: string };

/** The shortest time a document is remembered, whatever its headers say. */
const MIN_FRESH_MS = 10_000;

/**
 * How long a document may be remembered by its `Cache-Control` (RFC 9111 §5.2.2: `no-store`,
 * `no-cache`, `max-age`), within [10 s, `ttlMs`]; `ttlMs` without one.
 */
export function freshFor(cacheControl: string | null, ttlMs: number): number {
  const floor = Math.min(MIN_FRESH_MS, ttlMs);
  const directives = (cacheControl ?? '')
    .toLowerCase()
    .split(',')
    .map((d) => d.trim());
  if (directives.includes('no-store') || directives.includes('no-cache')) return floor;
  const maxAge = directives.map((d) => /^max-age\s*=\s*"?(\d{1,10})"?$/.exec(d)).find((m) => m !== null);
  return maxAge ? Math.min(ttlMs, Math.max(floor, Number(maxAge[1]) * 1000)) : ttlMs;
}

const CLIENT_NAME_MAX = 100;
const URIS_MAX = 20;

/** A bounded whole number option, or a BatonConfigError naming it. */
function bounded(value: number | undefined, fallback: number, min: number, max: number, name: string): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < min || v > max)
    throw new BatonConfigError(`clientMetadataDocuments.${name} must be a whole number from ${min} to ${max}, not ${JSON.stringify(value)}.`);
  return v;
}

/** The hosts as `URL.host` spells them; a wildcard, a path or a scheme is a BatonConfigError. */
function checkHosts(hosts: readonly string[]): Set<string> {
  if (!Array.isArray(hosts)) throw new BatonConfigError('clientMetadataDocuments.hosts must be a list of host names, e.g. ["apps.example.com"].');
  const out = new Set<string>();
  for (const h of hosts as unknown[]) {
    const host = typeof h === 'string' ? h.trim().toLowerCase() : '';
    if (host.includes('*'))
      throw new BatonConfigError(
        `clientMetadataDocuments.hosts lists ${JSON.stringify(h)}: wildcards are not allowed (whoever controls any subdomain would name clients); list each host.`,
      );
    if (host === '' || !URL.canParse(`https://${host}`) || new URL(`https://${host}`).host !== host)
      throw new BatonConfigError(
        `clientMetadataDocuments.hosts lists ${JSON.stringify(h)}, which is not a host name (e.g. apps.example.com, without https:// or a path).`,
      );
    out.add(host);
  }
  return out;
}

/**
 * Why `id` cannot be a client ID metadata URL on `hosts`, or undefined when it can. The draft's
 * "Client Identifier" rules: https, a path, no dot segments, no fragment, no user info; and
 * (stricter than its SHOULD NOT) no query. The URL must be written as the parser writes it, so one
 * document has one client id.
 */
export function metadataUrlProblem(id: string, hosts: ReadonlySet<string>): string | undefined {
  // 256: the longest client id the engine keeps (`baton.login`, the ID token's `aud`); a longer one
  // would pass the sign-in and consent pages and then fail at the code exchange, every time.
  if (id.length > 256) return 'is longer than 256 characters';
  if (!id.startsWith('https://')) return 'is not an https URL';
  if (!URL.canParse(id)) return 'is not a URL';
  const url = new URL(id);
  if (!hosts.has(url.host)) return 'is not on a listed host';
  if (url.href !== id) return 'is not written as a URL parser writes it (case, escapes, default port)';
  if (url.pathname === '/' || /\/\.\.?(\/|$)/.test(url.pathname)) return 'has no path, or a . or .. segment';
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') return 'has user info, a query or a fragment';
  return undefined;
}

/** A string list member of the document, each checked as a redirect URI, or a refusal. */
function uriList(doc: Record<string, unknown>, name: string, required: boolean): string[] | undefined {
  const v = doc[name];
  if (v === undefined && !required) return undefined;
  if (!Array.isArray(v) || v.length === 0 || v.length > URIS_MAX || v.some((u) => typeof u !== 'string'))
    throw new Error(`${name} must be a list of 1 to ${URIS_MAX} URIs`);
  return v.map((u: string) => checkRedirectUri(u, `The ${name} entry`));
}

/** The client a document describes, as the draft's "Client Metadata" section asks; throws the reason otherwise. */
export function clientOfDocument(id: string, doc: unknown): ClientRecord {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new Error('the document is not a JSON object');
  const d = doc as Record<string, unknown>;
  // The document's client_id must be the URL it was fetched from, compared as strings.
  if (d.client_id !== id) throw new Error('its client_id is not the URL it was fetched from');
  // No shared secret for a client anyone can name (the draft forbids client_secret and secret-based methods): public clients only.
  if ((d.token_endpoint_auth_method ?? 'none') !== 'none') throw new Error('token_endpoint_auth_method must be none (a public client)');
  if ('client_secret' in d || 'client_secret_expires_at' in d) throw new Error('it carries a client_secret');
  const grants = d.grant_types ?? ['authorization_code'];
  if (!Array.isArray(grants) || grants.some((g) => g !== 'authorization_code' && g !== 'refresh_token'))
    throw new Error('grant_types may list authorization_code and refresh_token only');
  if (d.response_types !== undefined && (!Array.isArray(d.response_types) || d.response_types.some((t) => t !== 'code')))
    throw new Error('response_types may list code only');
  const client: ClientRecord = { id, type: 'public', firstParty: false, redirectUris: uriList(d, 'redirect_uris', true) as string[] };
  const logout = uriList(d, 'post_logout_redirect_uris', false);
  if (logout !== undefined) client.postLogoutRedirectUris = logout;
  if (d.client_name !== undefined) {
    if (!displayableName(d.client_name, CLIENT_NAME_MAX))
      throw new Error(`client_name must be a string of 1 to ${CLIENT_NAME_MAX} characters, without control or format characters`);
    client.name = d.client_name.trim();
  }
  if (d.scope !== undefined) {
    if (typeof d.scope !== 'string' || d.scope.length > 1000) throw new Error('scope must be a space-separated string');
    client.scopes = checkScopes(d.scope.split(' ').filter(Boolean), 'The scope of the document');
  }
  return client;
}

/** The client ID metadata documents of the listed hosts: `get(url)` is the client, or null. */
export interface ClientMetadataResolver {
  /** Whether `id` is for this resolver: an https URL on a listed host. */
  handles(id: string): boolean;
  get(id: string): Promise<ClientRecord | null>;
  /** Fetches in flight now (for tests and metrics). */
  readonly inFlight: number;
  /** Documents and refusals remembered now. */
  readonly cached: number;
}

/** One document fetched within `timeoutMs` (headers and body), or the reason it was refused. */
async function loadDocument(id: string, doFetch: typeof fetch, timeoutMs: number, maxBytes: number): Promise<Outcome> {
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new Error(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
  });
  try {
    return await Promise.race([deadline, fetchDocument(id, doFetch, controller.signal, maxBytes)]);
  } catch (err) {
    return { refused: (err as Error).message };
  } finally {
    clearTimeout(timer);
    controller.abort(); // a body left unread is not kept open
  }
}

/** Creates the resolver; every option is checked here, with a sentence. */
export function clientMetadataDocuments(options: ClientMetadataOptions): ClientMetadataResolver {
  const hosts = checkHosts(options.hosts);
  const timeoutMs = bounded(options.timeoutMs, 5000, 100, 30_000, 'timeoutMs');
  const maxBytes = bounded(options.maxBytes, 5120, 256, 65_536, 'maxBytes');
  const ttlMs = bounded(options.ttlMs, 300_000, 1000, 86_400_000, 'ttlMs');
  const maxInFlight = bounded(options.maxInFlight, 8, 1, 256, 'maxInFlight');
  const max = bounded(options.cacheSize, 1000, 1, 100_000, 'cacheSize');
  // Refusals apart from documents: any caller can name ids that are not documents, and those must
  // not push a client's document out (its next request, a flow's token exchange, would need a fetch
  // that a flood keeping every fetch slot busy gets refused). A stale document stays (never served):
  // it marks a known client, whose fetch again is not refused by the cap (at most `max` of them).
  const cache = new LRUCache<string, Outcome>({ max, noDeleteOnStaleGet: true });
  const refusals = new LRUCache<string, Outcome>({ max });
  const pending = new Map<string, Promise<Outcome>>();
  const doFetch = options.fetch ?? ((...a: Parameters<typeof fetch>) => fetch(...a));

  return {
    handles: (id) => metadataUrlProblem(id, hosts) === undefined,
    get inFlight() {
      return pending.size;
    },
    get cached() {
      return cache.size + refusals.size;
    },
    async get(id) {
      if (metadataUrlProblem(id, hosts) !== undefined) return null; // never fetched
      const known = cache.get(id) ?? refusals.get(id) ?? (await (pending.get(id) ?? start(id)));
      return 'client' in known ? known.client : null;
    },
  };

  function start(id: string): Promise<Outcome> {
    // Past the cap, a new id is refused at once and not remembered: a burst of new ids cannot queue work.
    if (pending.size >= maxInFlight && cache.peek(id, { allowStale: true }) === undefined)
      return Promise.resolve({ refused: 'too many documents are being fetched' });
    const p = loadDocument(id, doFetch, timeoutMs, maxBytes).then((outcome) => {
      pending.delete(id);
      if ('refused' in outcome)
        options.logger?.warn({ event: 'client_metadata.refused', client: id.slice(0, 200), reason: outcome.refused }, 'client metadata document refused');
      if ('client' in outcome) cache.set(id, outcome, { ttl: Math.min(ttlMs, outcome.freshMs ?? ttlMs) });
      else refusals.set(id, outcome, { ttl: Math.max(MIN_FRESH_MS, Math.floor(ttlMs / 10)) });
      return outcome;
    });
    pending.set(id, p);
    return p;
  }
}

/** Fetches and reads one document: no redirect, JSON only, at most `maxBytes`. */
async function fetchDocument(id: string, doFetch: typeof fetch, signal: AbortSignal, maxBytes: number): Promise<Outcome> {
  // redirect: 'manual' — a redirect is refused, never followed (the document must be at its client id).
  const response = await doFetch(id, { redirect: 'manual', signal, headers: { accept: 'application/json' }, credentials: 'omit' });
  if (response.status !== 200) {
    await response.body?.cancel().catch(() => undefined);
    throw new Error(`the answer was HTTP ${response.status}, not 200`);
  }
  const type = (response.headers.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json') {
    await response.body?.cancel().catch(() => undefined);
    throw new Error('the answer is not application/json');
  }
  const text = await boundedText(response.body, maxBytes, response.headers.get('content-length'));
  if (text === undefined) throw new Error(`the document is larger than ${maxBytes} bytes`);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new Error('the document is not JSON');
  }
  return { client: clientOfDocument(id, doc), freshMs: freshFor(response.headers.get('cache-control'), Number.MAX_SAFE_INTEGER) };
}

/**
 * `registry`, plus the clients of metadata documents: an id that is an https URL on a listed host
 * is looked up by its document, every other id in `registry` (its `register` kept).
 * @example
 * ```ts
 * import { staticClients, withClientMetadataDocuments } from 'baton-auth/http';
 * const clients = withClientMetadataDocuments(staticClients([{ id: 'web' }]), { hosts: ['apps.example.com'] });
 * ```
 */
export function withClientMetadataDocuments(registry: ClientRegistry, options: ClientMetadataOptions | ClientMetadataResolver): ClientRegistry {
  const documents = 'handles' in options ? options : clientMetadataDocuments(options);
  const wrapped: ClientRegistry = { get: (id) => (documents.handles(id) ? documents.get(id) : registry.get(id)) };
  if (registry.register) wrapped.register = registry.register.bind(registry);
  return wrapped;
}

/** `registry` with the documents of `options` when given (`AuthorizationOptions.clientMetadataDocuments`), else itself. */
export function withDocuments(registry: ClientRegistry, options: ClientMetadataOptions | undefined, logger: Logger | undefined): ClientRegistry {
  return options === undefined ? registry : withClientMetadataDocuments(registry, { ...options, ...(logger && !options.logger ? { logger } : {}) });
}
