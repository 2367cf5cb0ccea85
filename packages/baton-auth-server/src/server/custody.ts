/**
 * Key custody: the service's private keys and refresh-token keys are kept in the store only
 * sealed (JWE `dir` + `A256GCM`, with jose) under a key-encryption key derived (HKDF-SHA256) from
 * the service secret, which never enters the store: `BATON_SECRET`, `BATON_SECRET_FILE`, or — for
 * the embedded SQLite store — a file of its own beside the database, generated on first start.
 * A copy of the store alone (a backup, a Redis dump, a `pg_dump`) mints nothing.
 *
 * A wrong or missing secret for a store that already has keys stops the start with a sentence:
 * new keys would log everyone out and hide the mistake.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, renameSync, rmSync } from 'node:fs';
import { BatonConfigError, BatonError, generateKey, KeyRing } from 'baton-auth';
import type { KeyInput, SigningAlg, BatonStore } from 'baton-auth';
import type { ServerConfig } from './config.ts';
import { redactUrl } from './config.ts';
import { checkedSecret, defaultSecretFile, kek, readSecretFile, seal, sealedBy, serviceSecret, unseal } from './secret.ts';
import { writeSecretFile } from './files.ts';
import type { ServiceSecret } from './secret.ts';
import { providers } from './providers.ts';
import { batonCommand } from '../cli/command.ts';

export { defaultSecretFile, generateSecret, seal, serviceSecret, unseal } from './secret.ts';
export type { ServiceSecret } from './secret.ts';

const BATON = batonCommand();

const CONFIG = 'config';
/** The kind of the clients' records (`clients.ts`): a store with none was never set up. */
const CLIENTS = 'clients';
/** The sealed key ring: signing, encryption and refresh-token keys, in one record so a re-seal is one write. */
const RING = 'keyring';
/** Records of the first versions, which kept keys in the clear (`keys seal-legacy` seals them). */
const LEGACY = { keys: 'keys', refreshSecret: 'refresh-secret' } as const;
/**
 * Written with the first key ring: a store that has it and no ring lost its keys. Its value (an id
 * and the time, or the bare time of earlier versions) is the install's identity: each instance
 * remembers the one it started with, and a store that no longer has it lost its data (`install.ts`).
 */
export const INITIALIZED = 'initialized';
/** Written by `keys reset` until the next ring: a store without keys on purpose, not a lost one. */
export const RESET = 'keys-reset';
/** The kind of the service's own records (the key ring, the install record). */
export const CONFIG_KIND = CONFIG;

/**
 * Whether an empty store at `url` is set up only on purpose (`baton store init`), never by a start.
 * Redis, because it is the store that loses its data with no one deleting anything: a restart
 * without persistence, an eviction policy (`maxmemory-policy allkeys-*`), a failover to an empty
 * replica. An instance that then started on it cannot tell it from a new one (the service secret
 * is the operator's, the same for both; nothing of the old install survives in the store; Redis's
 * own `run_id` or uptime change at every restart, lost or not), and made a fresh install silently:
 * new keys that every instance then loaded, refusing every token, and no users. So starting on an
 * empty Redis is refused with a sentence, and `baton store init` (once, like creating the database)
 * sets it up. SQLite and PostgreSQL lose data only by someone's act (a deleted file, a dropped
 * database): they are set up at first start as before, so `npm start` on a fresh clone just works;
 * a SQLite database's secret file beside it is its marker outside the store.
 */
export function setUpOnPurpose(url: string): boolean {
  return /^(rediss?|redis\+cluster):\/\//.test(url);
}

/** The ring a new service starts with: a signing key and the next one, an encryption key, a refresh key and the next one. */
function initialRing(alg: SigningAlg): KeyInput[] {
  return [
    generateKey(alg),
    { ...generateKey(alg), status: 'next' },
    { ...generateKey('dir'), status: 'active' },
    { ...generateKey('HS256', undefined, 'refresh'), status: 'active' },
    { ...generateKey('HS256', undefined, 'refresh'), status: 'next' },
  ];
}

/** The keys of the first versions (in the clear), as a ring: their refresh secret becomes the active refresh key. */
function legacyRing(keys: string, refreshSecret: string | null): KeyInput[] {
  const ring = JSON.parse(keys) as KeyInput[];
  const refresh: KeyInput[] =
    refreshSecret === null ? [] : [{ kid: 'refresh-legacy', alg: 'HS256', use: 'refresh', status: 'active', secret: `base64url:${refreshSecret}` }];
  return [...ring, ...refresh, { ...generateKey('HS256', undefined, 'refresh'), status: refresh.length === 0 ? 'active' : 'next' }];
}

/** The sealed ring of a store, opened. */
export interface Custody {
  secret: ServiceSecret;
  ring: KeyRing;
  /** Warnings for the operator (a ring sealed from the clear, an algorithm that differs from BATON_ALG). */
  warnings: string[];
  /** The store's install record as this instance found or wrote it: a store without it lost its data. */
  install: string;
  /** Set by a running service: why the store must not be written to now (it lost its data); `saveRing` then refuses. */
  lost?: () => string | undefined;
}

/** A new install record: an id (two set-ups at the same millisecond differ) and when. */
function installRecord(): string {
  return JSON.stringify({ id: randomUUID(), createdAt: new Date().toISOString() });
}

/** When an install record (of this version, or the bare time of earlier ones) says the store was set up. */
export function installedAt(record: string): string {
  try {
    const parsed = JSON.parse(record) as { createdAt?: unknown };
    if (typeof parsed.createdAt === 'string') return parsed.createdAt;
  } catch {
    // the bare ISO time of earlier versions
  }
  return record;
}

/**
 * Opens the store's key ring with the service secret, creating it on first start (the first
 * instance to write wins; the others open its ring). Keys the revocation log says were taken out
 * of service stay out, whatever the saved ring says.
 *
 * What it refuses, with a sentence, rather than guessing: keys in the clear (Baton 0.1 wrote
 * them, and so could anyone with write access to the store: `keys seal-legacy` adopts them on
 * purpose), and a store set up before whose sealed ring is gone (new keys would sign everyone out
 * and hide the loss: `keys reset` starts over on purpose).
 */
export async function openCustody(
  config: Pick<ServerConfig, 'store' | 'secret' | 'secretFile' | 'alg'> & Partial<Pick<ServerConfig, 'freshStart'>>,
  store: BatonStore,
  options: { init?: boolean } = {},
): Promise<Custody> {
  // The marker first: it is written after the ring, so a store that has it has a ring to read next.
  const initialized = await store.getRecord(CONFIG, INITIALIZED);
  const sealed = await store.getRecord(CONFIG, RING);
  const legacy = sealed === null ? await store.getRecord(CONFIG, LEGACY.keys) : null;
  if (sealed === null && legacy !== null) {
    throw new BatonConfigError(
      `The store holds signing keys in the clear (written by Baton 0.1, or planted by someone who can write to the store). If you upgraded from 0.1, seal them once with \`${BATON} keys seal-legacy\`; otherwise delete the records config/keys and config/refresh-secret.`,
    );
  }
  if (sealed === null && initialized !== null) {
    throw new BatonConfigError(
      `The store was set up before, but its sealed key ring (config/keyring) is missing: restore it from a backup. New keys would sign everyone out; to start over on purpose, run \`${BATON} keys reset\`.`,
    );
  }
  // A store with no ring, no users and no `keys reset` behind it is new, or lost.
  if (sealed === null && initialized === null && (await store.getRecord(CONFIG, RESET)) === null && (await store.listRecords('users')).length === 0)
    refuseLostDatabase(config);
  const secret = serviceSecret(config, sealed !== null);
  if (sealed === null && initialized === null && options.init !== true) await refuseUnsetUp(config.store, store);
  if (sealed === null) await store.putRecord(CONFIG, RING, await seal(secret.bytes, RING, initialRing(config.alg)), { ifAbsent: true });
  await store.putRecord(CONFIG, INITIALIZED, installRecord(), { ifAbsent: true });
  const install = await store.getRecord(CONFIG, INITIALIZED);
  if (install === null)
    throw new BatonConfigError(
      `The store at BATON_STORE=${redactUrl(config.store)} lost the install record (config/initialized) just written: is something deleting keys (an eviction policy, a FLUSHALL)?`,
    );
  await store.deleteRecord(CONFIG, RESET);
  const ring = new KeyRing(await openRing(secret, (sealed ?? (await store.getRecord(CONFIG, RING))) as string));
  for (const event of await store.revocationsSince(Date.now())) if (event.kind === 'key') ring.drop(event.id, event.at);
  const warnings: string[] = [];
  const active = ring.active('sig');
  if (active !== undefined && active.alg !== config.alg) {
    warnings.push(
      `BATON_ALG is ${config.alg}, but the store's signing key is ${active.alg}: run \`${BATON} keys rotate --alg ${config.alg}\` to switch (tokens signed with ${active.alg} keep verifying until they expire).`,
    );
  }
  return { secret, ring, warnings, install };
}

/**
 * Throws the start's sentence when `store` (at `url`) is set up only on purpose and holds no
 * Baton data: no key ring, no install record, no client (a store of the first versions has clients).
 * `baton` commands that write into a store check it too: a client written into an empty Redis would
 * otherwise let the next start make a fresh install silently.
 */
export async function refuseUnsetUp(url: string, store: BatonStore): Promise<void> {
  if (!setUpOnPurpose(url)) return;
  if ((await store.getRecord(CONFIG, INITIALIZED)) !== null || (await store.getRecord(CONFIG, RING)) !== null) return;
  if ((await store.listRecords(CLIENTS)).length === 0) throw new BatonConfigError(emptyStore(url));
}

/** What a start on an empty store that is set up only on purpose says. */
function emptyStore(url: string): string {
  return `The store at BATON_STORE=${redactUrl(url)} holds no Baton data. If this is a new installation, set it up once with \`${BATON} store init\` (with the same BATON_STORE and BATON_SECRET). If it held Baton's data before, it lost it (was Redis restarted without persistence, or are keys evicted?): restore it from a backup, or start afresh on purpose with \`${BATON} store init\` (every user, client and session is gone).`;
}

/**
 * A store with no keys is a fresh install, unless the embedded default's secret file is already
 * there: then the database was lost (deleted, emptied, a volume not mounted), and starting would
 * silently begin again with no users. Refused with a sentence, unless `freshStart` says it is
 * meant (`baton serve --fresh-start`).
 */
function refuseLostDatabase(config: Pick<ServerConfig, 'store' | 'secret' | 'secretFile' | 'freshStart'>): void {
  const file = config.secret === undefined && config.secretFile === undefined ? defaultSecretFile(config.store) : undefined;
  if (file === undefined || config.freshStart === true || !existsSync(file)) return;
  const db = config.store.slice('sqlite:'.length);
  throw new BatonConfigError(
    `${db} holds no Baton data (missing, empty or never set up), but ${file} exists: this looks like an install whose database was lost. Restore it from a backup (\`${BATON} restore <file> --revoke-sessions\` or \`--keep-sessions\`, see docs/backups.md), or, to start afresh on purpose with no users, run \`${BATON} serve --fresh-start\` once (or remove ${file}).`,
  );
}

/**
 * Seals keys an earlier Baton kept in the clear (`keys seal-legacy`), and deletes the clear
 * copies. Copies of the store made before can still mint with them: rotate both kinds of key
 * after (the CLI says so).
 */
export async function sealLegacyKeys(config: Pick<ServerConfig, 'store' | 'secret' | 'secretFile' | 'alg'>, store: BatonStore): Promise<number> {
  const legacy = await store.getRecord(CONFIG, LEGACY.keys);
  if (legacy === null) throw new BatonConfigError('The store holds no keys in the clear: there is nothing to seal.');
  if ((await store.getRecord(CONFIG, RING)) !== null)
    throw new BatonConfigError('The store already has a sealed key ring; delete config/keys and config/refresh-secret instead.');
  const secret = serviceSecret(config, false);
  const inputs = legacyRing(legacy, await store.getRecord(CONFIG, LEGACY.refreshSecret));
  await store.putRecord(CONFIG, RING, await seal(secret.bytes, RING, inputs), { ifAbsent: true });
  await store.putRecord(CONFIG, INITIALIZED, installRecord(), { ifAbsent: true });
  await store.deleteRecord(CONFIG, LEGACY.keys);
  await store.deleteRecord(CONFIG, LEGACY.refreshSecret);
  return inputs.length;
}

/** Forgets the store's key ring on purpose (`keys reset`): the next start makes new keys, and every session must sign in again. */
export async function resetKeys(store: BatonStore): Promise<void> {
  await store.putRecord(CONFIG, RESET, new Date().toISOString());
  await store.deleteRecord(CONFIG, RING);
  await store.deleteRecord(CONFIG, INITIALIZED);
}

/**
 * The ring's keys, from the sealed record. With the embedded default's secret file, a record
 * sealed by another secret sends us to the file again: `secret rotate` (from the CLI) may have
 * replaced it, or been interrupted with the new secret still in `<file>.new`. `secret` then
 * becomes the one that opens the ring.
 */
export async function openRing(secret: ServiceSecret, sealed: string): Promise<KeyInput[]> {
  const file = secret.managedFile;
  if (file !== undefined && sealedBy(RING, sealed) !== kek(secret.bytes).kid) {
    for (const path of [file, `${file}.new`]) {
      if (!existsSync(path)) continue;
      const bytes = readSecretFile(path, path);
      if (kek(bytes).kid !== sealedBy(RING, sealed)) continue;
      secret.bytes = bytes;
      if (path !== file) renameSync(path, file); // finish the interrupted rotation
      break;
    }
  } else if (file !== undefined && existsSync(`${file}.new`)) {
    rmSync(`${file}.new`); // a rotation interrupted before it re-sealed anything
  }
  return unseal<KeyInput[]>(secret, RING, sealed);
}

/** Reads the sealed ring again (another instance or the CLI changed it). */
export async function readRing(custody: Custody, store: BatonStore): Promise<KeyInput[] | null> {
  const sealed = await store.getRecord(CONFIG, RING);
  return sealed === null ? null : openRing(custody.secret, sealed);
}

/** Seals and saves the ring (after a rotation or a removal). */
export async function saveRing(custody: Custody, store: BatonStore): Promise<void> {
  // A store that lost its data gets no keys from this instance: they would make it a fresh install.
  if (custody.lost?.() !== undefined) throw new BatonError('ERR_STORE_UNAVAILABLE', `the store ${custody.lost?.()}`);
  await store.putRecord(CONFIG, RING, await seal(custody.secret.bytes, RING, custody.ring.export()));
}

/**
 * Re-seals the ring under a new service secret. For the embedded default the new secret is
 * written to `<file>.new` first, the store re-sealed, then the file renamed over the old one: a
 * crash at any point leaves a secret that opens the store (start-up tries `.new` too).
 */
export async function rotateSecret(custody: Custody, store: BatonStore, next: string): Promise<void> {
  const bytes = checkedSecret(next, 'The new secret');
  const staged = custody.secret.managedFile === undefined ? undefined : `${custody.secret.managedFile}.new`;
  if (staged !== undefined) writeSecretFile(staged, next);
  await store.putRecord(CONFIG, RING, await seal(bytes, RING, custody.ring.export()));
  // The sign-in providers' client secrets are sealed under the same secret (providers.ts).
  await providers.reseal(store, custody.secret, bytes);
  if (staged !== undefined) renameSync(staged, custody.secret.managedFile as string);
}
