/**
 * Client authentication at the token, revocation and introspection endpoints (RFC 6749 §2.3):
 * `client_secret_basic`, `client_secret_post`, or a public client naming itself with
 * `client_id`. A request that names no client acts as the handler's default client.
 */
import { LRUCache } from 'lru-cache';
import { checkClientSecret } from './clients.ts';
import type { ClientRecord, ClientRegistry } from './clients.ts';
import type { AuditInput } from '../core/audit.ts';
import type { Logger } from './context.ts';
import type { LoginProtection } from './login-protection.ts';
import { budgetAddress, tooManyAttempts } from './login-protection.ts';
import { HttpError } from './respond.ts';

/** What client authentication needs: the registry, the client a request naming none acts as, and the throttle on wrong secrets. */
export interface ClientAuthContext {
  clients: ClientRegistry;
  defaultClientId: string;
  clientProtection: LoginProtection;
  /** Where a refused client authentication is told to operators (the caller hears one sentence for every cause). */
  log?: Logger | undefined;
  /** The audit trail (`Baton.audit`): a refused client authentication is `client.auth_failed`. */
  baton?: { audit(event: AuditInput): void };
  /** Recent successes (`recentClientAuths`): client id and address → the secret hash they matched. */
  recentClientAuths?: LRUCache<string, string>;
}

/**
 * A successful client authentication is remembered for a minute, per client and address — the
 * pair the failure counters are kept for — with the secret hash it matched. The same client
 * presenting its right secret from the same address again is only checked for a block (reads) and
 * writes nothing: a resource server introspecting on the service's SQLite file wrote five counter
 * rows per request before (#26). Anything else takes the full path, where an attempt is counted
 * before it is answered: a wrong secret, a changed secret, another address (so a guesser elsewhere
 * never gets an answer uncounted). Dropping an entry (the bound, the minute) costs the next request
 * the full path, never a refusal: nothing here is needed to refuse.
 */
export function recentClientAuths(max = 10_000): LRUCache<string, string> {
  return new LRUCache<string, string>({ max, ttl: 60_000 });
}

/** Why a client authentication failed, for the operator's log (never the secret). */
function refused(
  c: ClientAuthContext,
  id: string,
  ip: string,
  why: 'unknown client' | 'missing secret' | 'wrong secret' | 'secret from a public client',
): HttpError {
  c.log?.info({ event: 'client.auth_failed', client: id.slice(0, 64), ip, why }, `client authentication failed: ${why}`);
  c.baton?.audit({ type: 'client.auth_failed', client: id, ip, reason: why.replaceAll(' ', '_') });
  return invalidClient('Client authentication failed');
}

/** RFC 6749 §5.2: `invalid_client` is a 401 with a challenge for the scheme the client can use. */
export function invalidClient(description: string): HttpError {
  return new HttpError('ERR_CLIENT_INVALID', description, { headers: { 'www-authenticate': 'Basic realm="baton", charset="UTF-8"' } });
}

/** The id and secret of a `client_secret_basic` header, or undefined when there is none. */
function basicCredentials(authorization: string | null): { id: string; secret: string } | undefined {
  if (authorization === null || !/^basic /i.test(authorization)) return undefined;
  const decoded = Buffer.from(authorization.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) throw invalidClient('Malformed client credentials');
  try {
    // RFC 6749 §2.3.1: id and secret are form-urlencoded before the Basic encoding.
    const unform = (s: string) => (s.includes('%') || s.includes('+') ? decodeURIComponent(s.replace(/\+/g, ' ')) : s);
    return { id: unform(decoded.slice(0, colon)), secret: unform(decoded.slice(colon + 1)) };
  } catch {
    throw invalidClient('Malformed client credentials');
  }
}

/**
 * The client making `request`, authenticated when it is confidential; `invalid_client` (401)
 * for an unknown client, a wrong or missing secret, or a secret offered by a public client —
 * one message for all, so that the answer does not tell which client ids exist. Wrong secrets are
 * throttled as wrong passwords are, per client id and address (429 once refused), at every
 * endpoint. `fields` are the request's form fields (`client_id`, `client_secret`).
 */
export async function authenticateClient(c: ClientAuthContext, request: Request, fields: Record<string, string>, ip: string): Promise<ClientRecord> {
  const basic = basicCredentials(request.headers.get('authorization'));
  const posted = fields.client_secret;
  // RFC 6749 §2.3: a client uses one authentication method per request.
  if (basic !== undefined && posted !== undefined) throw new HttpError('ERR_INVALID_REQUEST', 'Use one client authentication method, not two');
  if (basic !== undefined && fields.client_id !== undefined && fields.client_id !== basic.id) throw invalidClient('client_id does not match the credentials');
  const id = basic?.id ?? fields.client_id ?? c.defaultClientId;
  const secret = basic?.secret ?? posted;
  if (secret === undefined) {
    const client = id === '' ? null : await c.clients.get(id);
    if (client === null) throw refused(c, id, ip, 'unknown client');
    if (client.type === 'confidential') throw refused(c, id, ip, 'missing secret');
    return client;
  }
  const pair = `${id}\n${budgetAddress(ip)}`;
  const known = c.recentClientAuths?.get(pair);
  // Read once: the cached path's record serves the full path when that one is taken after all.
  let found: ClientRecord | null | undefined;
  if (known !== undefined && c.clientProtection.peek !== undefined) {
    found = await c.clients.get(id);
    // Only what the full path would take: a confidential client whose secret is the one it matched.
    if (found?.type === 'confidential' && found.secretHash === known && checkClientSecret(secret, known)) {
      const { retryAfterMs, failures } = await c.clientProtection.peek(id, ip);
      if (retryAfterMs > 0) throw tooManyAttempts(retryAfterMs);
      // Failures counted since: the full path's success clears them, as any success does.
      if (failures === 0) return found;
    }
  }
  const attempt = await c.clientProtection.check(id, ip);
  if (attempt.retryAfterMs > 0) throw tooManyAttempts(attempt.retryAfterMs);
  const client = id === '' ? null : found !== undefined ? found : await c.clients.get(id);
  // The same work whether or not the client exists or is confidential.
  const ok = checkClientSecret(secret, client?.type === 'confidential' ? client.secretHash : undefined);
  if (!ok || client === null) {
    const blocked = await attempt.failed();
    const why = client === null ? 'unknown client' : client.type === 'public' ? 'secret from a public client' : 'wrong secret';
    throw blocked > 0 ? tooManyAttempts(blocked) : refused(c, id, ip, why);
  }
  await attempt.succeeded();
  if (client.secretHash !== undefined) c.recentClientAuths?.set(pair, client.secretHash);
  return client;
}
