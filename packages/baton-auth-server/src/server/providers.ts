/**
 * The service's sign-in providers, kept in the store (`baton providers …`) as clients are: each
 * record its settings, its client secret sealed under the service secret (`secret.ts`: a copy of
 * the store alone does not give it), read again by a running service within 5 s. And the links of
 * upstream accounts to users: the issuer and subject of an account (hashed into the record's key)
 * → the user id, so the same upstream account always signs in as the same user.
 *
 * Linking (`linkUser`): an account linked before signs in as its user; otherwise an account whose
 * provider says its email is verified (`email_verified: true`, GitHub's verified primary email)
 * links to the user of that email (`baton users add --email`, or a username that is the email);
 * otherwise it is a new user with a generated unique username, no password, and no scope beyond
 * the default (none: `baton users scopes` gives more).
 */
import { createHash, randomBytes } from 'node:crypto';
import { BatonConfigError, BatonError } from 'baton-auth';
import type { BatonStore } from 'baton-auth';
import { checkProviderOptions, upstreamProvider } from 'baton-auth/http';
import type { ProvidersOptions, UpstreamIdentity, UpstreamProvider, UpstreamProviderOptions } from 'baton-auth/http';
import { seal, unseal } from './secret.ts';
import type { ServiceSecret } from './secret.ts';
import { users } from './users.ts';

const PROVIDERS = 'providers';
const LINKS = 'provider_links';

/** A provider as the store keeps it: its settings, and its client secret sealed (`secretSealed`), never in the clear. */
export interface ProviderRecord extends Pick<
  UpstreamProviderOptions,
  'name' | 'label' | 'preset' | 'issuer' | 'tenant' | 'clientId' | 'scope' | 'responseMode'
> {
  secretSealed?: string;
  createdAt: number;
}

/** What `providers add` takes. */
export type ProviderSettings = Omit<UpstreamProviderOptions, 'fetch' | 'timeoutMs'>;

const sealName = (name: string): string => `provider-secret:${name}`;

/** The settings of a record, its secret opened. */
async function optionsOf(secret: ServiceSecret, r: ProviderRecord): Promise<UpstreamProviderOptions> {
  const o: UpstreamProviderOptions = { name: r.name, clientId: r.clientId };
  for (const k of ['label', 'preset', 'issuer', 'tenant', 'scope', 'responseMode'] as const)
    if (r[k] !== undefined) (o as unknown as Record<string, unknown>)[k] = r[k];
  if (r.secretSealed !== undefined) o.clientSecret = await unseal<string>(secret, sealName(r.name), r.secretSealed);
  return o;
}

/** Managing the providers (the CLI). */
export const providers = {
  /**
   * Adds a provider: the settings checked (a sentence per mistake), then — unless `check` is false —
   * the provider's discovery document read (a wrong issuer fails here, not at the first sign-in).
   */
  async add(
    store: BatonStore,
    secret: ServiceSecret,
    settings: ProviderSettings,
    o: { check?: boolean; fetch?: UpstreamProviderOptions['fetch'] } = {},
  ): Promise<ProviderRecord> {
    let provider: UpstreamProvider;
    try {
      checkProviderOptions(settings);
      provider = upstreamProvider({ ...settings, ...(o.fetch === undefined ? {} : { fetch: o.fetch }) });
    } catch (err) {
      if (err instanceof BatonConfigError) throw new BatonError('ERR_INVALID_ARGUMENT', err.message);
      throw err;
    }
    if (o.check !== false) {
      try {
        await provider.check();
      } catch {
        throw new BatonError(
          'ERR_INVALID_ARGUMENT',
          `No OpenID Connect provider answers at ${provider.issuer}: ${provider.issuer}/.well-known/openid-configuration could not be read, or is not that issuer's. Check the issuer URL (it is the "issuer" of the provider's discovery document).`,
        );
      }
    }
    const record: ProviderRecord = { name: settings.name, clientId: settings.clientId, createdAt: Date.now() };
    for (const k of ['label', 'preset', 'issuer', 'tenant', 'scope', 'responseMode'] as const)
      if (settings[k] !== undefined) (record as unknown as Record<string, unknown>)[k] = settings[k];
    if (settings.clientSecret !== undefined) record.secretSealed = await seal(secret.bytes, sealName(settings.name), settings.clientSecret);
    if (!(await store.putRecord(PROVIDERS, settings.name, JSON.stringify(record), { ifAbsent: true })))
      throw new BatonError('ERR_INVALID_ARGUMENT', `The provider ${settings.name} already exists (remove it first to change it).`);
    return record;
  },
  async list(store: BatonStore): Promise<ProviderRecord[]> {
    return (await store.listRecords(PROVIDERS)).map((r) => JSON.parse(r.value) as ProviderRecord).sort((a, b) => a.createdAt - b.createdAt);
  },
  async remove(store: BatonStore, name: string): Promise<boolean> {
    return store.deleteRecord(PROVIDERS, name);
  },
  /** Re-seals every provider's secret under a new service secret (`baton secret rotate`). */
  async reseal(store: BatonStore, from: ServiceSecret, to: Uint8Array): Promise<void> {
    for (const r of await providers.list(store)) {
      if (r.secretSealed === undefined) continue;
      const clear = await unseal<string>(from, sealName(r.name), r.secretSealed);
      await store.putRecord(PROVIDERS, r.name, JSON.stringify({ ...r, secretSealed: await seal(to, sealName(r.name), clear) }));
    }
  },
};

/**
 * The providers of `store` for the handler, read at most once per `ttlMs` (a change reaches every
 * instance within it); a provider object is kept while its record is unchanged, and with it its
 * discovered configuration.
 */
export function storeProviders(
  store: BatonStore,
  secret: ServiceSecret,
  ttlMs = 5000,
  fetch?: UpstreamProviderOptions['fetch'],
): () => Promise<readonly UpstreamProvider[]> {
  const built = new Map<string, { raw: string; provider: UpstreamProvider }>();
  let cached: { at: number; list: Promise<readonly UpstreamProvider[]> } | undefined;
  const read = async (): Promise<readonly UpstreamProvider[]> => {
    const records = await store.listRecords(PROVIDERS);
    const out: UpstreamProvider[] = [];
    for (const { key, value } of records) {
      const known = built.get(key);
      if (known?.raw === value) {
        out.push(known.provider);
        continue;
      }
      try {
        const provider = upstreamProvider({ ...(await optionsOf(secret, JSON.parse(value) as ProviderRecord)), ...(fetch === undefined ? {} : { fetch }) });
        built.set(key, { raw: value, provider });
        out.push(provider);
      } catch {
        // A record this version cannot use (or sealed under another secret) shows no button.
      }
    }
    for (const key of built.keys()) if (!records.some((r) => r.key === key)) built.delete(key);
    const order = new Map(records.map((r) => [r.key, (JSON.parse(r.value) as ProviderRecord).createdAt]));
    return out.sort((a, b) => (order.get(a.name) ?? 0) - (order.get(b.name) ?? 0));
  };
  return () => {
    if (cached === undefined || Date.now() - cached.at >= ttlMs) {
      const next = { at: Date.now(), list: read() };
      next.list.catch(() => {
        if (cached === next) cached = undefined;
      });
      cached = next;
    }
    return cached.list;
  };
}

/** The key of an upstream account's link: the issuer and subject, hashed (bounded, and no delimiter to confuse). */
const linkKey = (i: Pick<UpstreamIdentity, 'issuer' | 'subject'>): string =>
  createHash('sha256')
    .update(JSON.stringify([i.issuer, i.subject]))
    .digest('base64url');

/** A username for a new user from the provider's hint: its allowed characters, and a random suffix (unique, unguessable from the hint). */
function newUsername(i: UpstreamIdentity): string {
  const hint = (i.username ?? i.email?.split('@')[0] ?? i.provider).replace(/[^A-Za-z0-9._-]/g, '').slice(0, 40) || i.provider;
  return `${hint}-${randomBytes(4).toString('hex')}`;
}

/** The user of a user id, with the scopes they may have, if they still exist. */
async function userOf(store: BatonStore, userId: string): Promise<{ userId: string; username: string; scope: string } | null> {
  const name = await users.nameOf(store, userId);
  const user = name === undefined ? null : await users.get(store, name);
  return user === null || user.id !== userId ? null : { userId: user.id, username: user.username, scope: user.scopes.join(' ') };
}

/** The user an upstream identity signs in as (see the module comment): linked, linked now by a verified email, or new. */
export async function linkUser(store: BatonStore, identity: UpstreamIdentity): Promise<{ userId: string; username: string; scope: string }> {
  const key = linkKey(identity);
  const linked = await store.getRecord(LINKS, key);
  if (linked !== null) {
    const user = await userOf(store, linked);
    if (user !== null) return user;
    await store.deleteRecord(LINKS, key); // its user was removed: link afresh
  }
  let user: { userId: string; username: string; scope: string } | null = null;
  if (identity.emailVerified && identity.email !== undefined) {
    const found = await users.byEmail(store, identity.email);
    if (found !== null) user = { userId: found.id, username: found.username, scope: found.scopes.join(' ') };
  }
  let created: string | undefined;
  if (user === null) {
    for (let attempt = 0; user === null && attempt < 5; attempt++) {
      const made = await users.addLinked(store, newUsername(identity));
      if (made !== null) {
        user = { userId: made.id, username: made.username, scope: '' };
        created = made.username;
      }
    }
    if (user === null) throw new BatonError('ERR_STORE_UNAVAILABLE', 'no free username for a new user');
  }
  // The same account signing in twice at once links once: the loser uses the winner's user.
  if (!(await store.putRecord(LINKS, key, user.userId, { ifAbsent: true }))) {
    if (created !== undefined) await users.remove(store, created);
    const winner = await store.getRecord(LINKS, key);
    const theirs = winner === null ? null : await userOf(store, winner);
    if (theirs !== null) return theirs;
  }
  return user;
}

/** The `providers` option of the service's handler. */
export function serviceProviders(store: BatonStore, secret: ServiceSecret, issuer: string): ProvidersOptions {
  return { list: storeProviders(store, secret), user: (identity) => linkUser(store, identity), returnTo: `${issuer}/#signed-in` };
}

/** How many links point at a user id (tests, `baton users`): a cheap scan of the links. */
export async function linksOf(store: BatonStore, userId: string): Promise<number> {
  return (await store.listRecords(LINKS)).filter((r) => r.value === userId).length;
}

export const LINKS_KIND = LINKS;
export const PROVIDERS_KIND = PROVIDERS;
