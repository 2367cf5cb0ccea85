/**
 * The standalone service's OAuth clients, kept in the store (`baton clients …`). Secrets are
 * shown once, when made, and kept only as hashes. On first start the service registers one public
 * client, `default` (its web page's), that a request naming no client acts as.
 */
import { LRUCache } from 'lru-cache';
import { BatonError, parseScope } from 'baton-auth';
import { checkClientSecret, checkRedirectUri, checkResources, generateClientSecret, hashClientSecret } from 'baton-auth/http';
import type { ClientRecord, ClientRegistry } from 'baton-auth/http';
import type { BatonStore } from 'baton-auth';
import { batonCommand } from '../cli/command.ts';

const BATON = batonCommand();

const CLIENTS = 'clients';
const CLIENT_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/** The client the service's page uses, and that requests naming no client act as. */
export const DEFAULT_CLIENT = 'default';
/** The confidential client `BATON_INTROSPECTION_SECRET` creates for resource servers. */
export const RESOURCE_SERVER_CLIENT = 'resource-server';

/** The counter of clients kept through RFC 7591 registration (atomic in every store, shared by instances). */
const REGISTERED = 'clients:registered';
const FOREVER_MS = 100 * 365 * 86_400_000;

/**
 * Keeps a registered client unless `maxClients` are kept already: a place is taken on the store's
 * atomic counter first (parallel registrations on any instance cannot pass the cap together), and
 * given back when the client is not kept.
 */
async function registerClient(store: BatonStore, record: ClientRecord, maxClients: number): Promise<boolean> {
  const { count } = await store.hitCounter(REGISTERED, 1, FOREVER_MS, Date.now());
  let kept = false;
  try {
    if (count <= maxClients)
      kept = await store.putRecord(CLIENTS, record.id, JSON.stringify({ ...record, registered: true } satisfies StoredClient), { ifAbsent: true });
  } finally {
    if (!kept) await store.hitCounter(REGISTERED, -1, FOREVER_MS, Date.now());
  }
  return kept;
}

/** The clients of `store`, each read at most once per `ttlMs` (a removal reaches every instance within it). */
export function storeClients(store: BatonStore, ttlMs = 5000): ClientRegistry {
  const cache = new LRUCache<string, { client: ClientRecord | null }>({ max: 1000, ttl: ttlMs });
  return {
    register: (record, { maxClients }) => registerClient(store, record, maxClients),
    async get(id) {
      const hit = cache.get(id);
      if (hit !== undefined) return hit.client;
      const raw = await store.getRecord(CLIENTS, id);
      const client = raw === null ? null : (JSON.parse(raw) as ClientRecord);
      cache.set(id, { client });
      return client;
    },
  };
}

/** The authorization code flow's options of `clients add`. */
export interface CodeFlowOptions {
  redirectUris?: string[];
  postLogoutRedirectUris?: string[];
  firstParty?: boolean;
  requirePar?: boolean;
  name?: string;
}

/** The code flow fields of a client, each redirect URI checked (`checkRedirectUri`); a mistake is a sentence. */
function codeFlowFields(o: CodeFlowOptions): Partial<ClientRecord> {
  const fields: Partial<ClientRecord> = {};
  const check = (uris: string[], flag: string): string[] =>
    uris.map((u) => {
      try {
        return checkRedirectUri(u, flag);
      } catch (err) {
        throw new BatonError('ERR_INVALID_ARGUMENT', (err as Error).message);
      }
    });
  if (o.redirectUris?.length) fields.redirectUris = check(o.redirectUris, '--redirect-uri');
  if (o.postLogoutRedirectUris?.length) fields.postLogoutRedirectUris = check(o.postLogoutRedirectUris, '--post-logout-redirect-uri');
  if (o.firstParty) fields.firstParty = true;
  if (o.requirePar) fields.requirePar = true;
  if (o.name !== undefined) {
    if (o.name.trim() === '' || o.name.length > 100) throw new BatonError('ERR_INVALID_ARGUMENT', '--name is 1 to 100 characters.');
    fields.name = o.name.trim();
  }
  return fields;
}

/** Managing the clients (the CLI). */
export const clients = {
  /** Registers a client; a confidential one gets a secret, returned here once and stored only hashed. */
  async add(
    store: BatonStore,
    id: string,
    options: {
      scopes?: string;
      confidential?: boolean;
      introspect?: boolean;
      secret?: string;
      resources?: string[];
      clientCredentials?: boolean;
      dpop?: string;
    } & CodeFlowOptions = {},
  ): Promise<{ client: ClientRecord; secret?: string }> {
    if (!CLIENT_ID.test(id)) throw new BatonError('ERR_INVALID_ARGUMENT', 'A client id is 1 to 64 letters, digits or . _ : -.');
    const secret = options.secret ?? (options.confidential || options.introspect || options.clientCredentials ? generateClientSecret() : undefined);
    if (secret !== undefined && secret.length < 32) throw new BatonError('ERR_INVALID_ARGUMENT', 'A client secret must be at least 32 characters.');
    // Scopes an administrator gave are marked as theirs (`scopesSet`), whatever they are, none included.
    const client: StoredClient = { id, type: secret === undefined ? 'public' : 'confidential', scopes: parseScope(options.scopes ?? ''), scopesSet: true };
    if (secret !== undefined) client.secretHash = hashClientSecret(secret);
    if (options.introspect) client.introspect = true;
    if (options.clientCredentials) client.grantTypes = ['client_credentials'];
    if (options.dpop !== undefined) {
      if (options.dpop !== 'required' && options.dpop !== 'allowed')
        throw new BatonError('ERR_INVALID_ARGUMENT', `--dpop is required or allowed, not ${JSON.stringify(options.dpop)}.`);
      if (options.dpop === 'required') client.dpop = 'required';
    }
    Object.assign(client, codeFlowFields(options));
    if (options.resources !== undefined) {
      try {
        client.resources = checkResources(options.resources, `The resources of client ${id}`);
      } catch (err) {
        throw new BatonError('ERR_INVALID_ARGUMENT', (err as Error).message);
      }
    }
    if (!(await store.putRecord(CLIENTS, id, JSON.stringify(client), { ifAbsent: true })))
      throw new BatonError('ERR_INVALID_ARGUMENT', `The client ${id} already exists.`);
    return secret === undefined ? { client } : { client, secret };
  },
  async list(store: BatonStore): Promise<ClientRecord[]> {
    return (await store.listRecords(CLIENTS)).map((r) => JSON.parse(r.value) as ClientRecord);
  },
  async remove(store: BatonStore, id: string): Promise<boolean> {
    const raw = await store.getRecord(CLIENTS, id);
    const removed = await store.deleteRecord(CLIENTS, id);
    // A registered client gives its place back (BATON_CLIENT_REGISTRATION_MAX).
    if (removed && raw !== null && (JSON.parse(raw) as StoredClient).registered === true) await store.hitCounter(REGISTERED, -1, FOREVER_MS, Date.now());
    return removed;
  },
  /** Sets the scopes a client may ask for. */
  async setScopes(store: BatonStore, id: string, scopes: string): Promise<ClientRecord> {
    const raw = await store.getRecord(CLIENTS, id);
    if (raw === null) throw new BatonError('ERR_INVALID_ARGUMENT', `There is no client ${id}.`);
    const client: StoredClient = { ...(JSON.parse(raw) as ClientRecord), scopes: parseScope(scopes), scopesSet: true };
    await store.putRecord(CLIENTS, id, JSON.stringify(client));
    return client;
  },
};

/**
 * A client as the store keeps it: `managedBy` marks the one `BATON_INTROSPECTION_SECRET` made (so
 * that unsetting the variable removes it again), `scopesSet` scopes an administrator set.
 */
interface StoredClient extends ClientRecord {
  managedBy?: 'BATON_INTROSPECTION_SECRET';
  scopesSet?: true;
  /** Came through RFC 7591 registration (counts against BATON_CLIENT_REGISTRATION_MAX). */
  registered?: true;
}

/**
 * What every start makes sure of: the default public client exists; with
 * `BATON_INTROSPECTION_SECRET` the `resource-server` client introspects with that secret, and
 * without it the client that variable made is gone (unset means refused).
 */
export async function bootstrapClients(store: BatonStore, introspectionSecret: string | undefined): Promise<string[]> {
  // The default client is the service's own (its page, `/auth/login` naming no client): made with
  // no scope limit of its own, so that a user is granted the scopes `users add --scopes` gave them.
  // An existing record is never rewritten (an administrator may have limited it on purpose); one
  // that earlier versions made with no scope at all, which granted nothing, is named in a warning.
  const warnings: string[] = [];
  const made = await store.getRecord(CLIENTS, DEFAULT_CLIENT);
  if (made === null)
    await store.putRecord(CLIENTS, DEFAULT_CLIENT, JSON.stringify({ id: DEFAULT_CLIENT, type: 'public' } satisfies ClientRecord), { ifAbsent: true });
  else {
    const current = JSON.parse(made) as StoredClient;
    if (current.scopesSet !== true && current.scopes?.length === 0) {
      warnings.push(
        `The default client may ask for no scope, so logins through the page or naming no client get tokens without any (earlier versions made it so). Let it ask for what users have: ${BATON} clients scopes default "<the scopes>".`,
      );
    }
  }
  const raw = await store.getRecord(CLIENTS, RESOURCE_SERVER_CLIENT);
  const known = raw === null ? null : (JSON.parse(raw) as StoredClient);
  if (introspectionSecret === undefined) {
    if (known?.managedBy === 'BATON_INTROSPECTION_SECRET') await store.deleteRecord(CLIENTS, RESOURCE_SERVER_CLIENT);
    return warnings;
  }
  if (known !== null && checkClientSecret(introspectionSecret, known.secretHash)) return warnings;
  const client: StoredClient = {
    id: RESOURCE_SERVER_CLIENT,
    type: 'confidential',
    secretHash: hashClientSecret(introspectionSecret),
    scopes: [],
    introspect: true,
    managedBy: 'BATON_INTROSPECTION_SECRET',
  };
  await store.putRecord(CLIENTS, RESOURCE_SERVER_CLIENT, JSON.stringify(client));
  return warnings;
}
