/**
 * The standalone service's users, kept in the store: Argon2id password hashes (RFC 9106, the
 * library's defaults: 19 MiB, 2 passes) and the scopes each user may be granted.
 */
import { randomBytes } from 'node:crypto';
import { hash, verify } from '@node-rs/argon2';
import { BatonError, parseScope } from 'baton-auth';
import type { BatonStore } from 'baton-auth';
import { LRUCache } from 'lru-cache';
import { forgetConsents } from './consents.ts';
import { passkeyRecords } from 'baton-auth/passkeys';

/** A user of the standalone service. */
export interface User {
  id: string;
  username: string;
  passwordHash: string;
  createdAt: number;
  /** The scopes this user may be granted (RFC 6749 §3.3); a login asking for another gets `invalid_scope`. */
  scopes: string[];
  /** Their email (`users add --email`): a provider's sign-in with this email, verified by the provider, links to this user (`providers.ts`). */
  email?: string;
}

const USERS = 'users';
/** User id → username: `/auth/me` says whose token it is by name without reading every user. */
const NAMES = 'user_names';
/** Email (lowercase) → username: a provider's verified email finds its user in one read. */
const EMAILS = 'user_emails';
const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,190}$/;
/** Lowercase in ASCII only (A-Z): no other letter folds onto an ASCII one. */
const asciiLower = (s: string): string => s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
const USERNAME = /^[A-Za-z0-9._@-]{1,64}$/;
/** Usernames found by id (`nameOf`), the most recently asked for: a few hundred KB at most. */
const NAMES_SEEN = new LRUCache<string, string>({ max: 10_000 });
const DUMMY_HASH = hash('baton-timing-equaliser');

function read(raw: string): User {
  const user = JSON.parse(raw) as User;
  return { ...user, scopes: user.scopes ?? [] };
}

async function write(store: BatonStore, user: User): Promise<void> {
  await store.putRecord(USERS, user.username.toLowerCase(), JSON.stringify(user));
}

/** The user table, kept in the store. */
export const users = {
  async add(store: BatonStore, username: string, password: string, scopes = '', email?: string): Promise<User> {
    if (!USERNAME.test(username)) throw new BatonError('ERR_INVALID_ARGUMENT', 'A username is 1 to 64 letters, digits or . _ @ -.');
    if (password.length < 8) throw new BatonError('ERR_INVALID_ARGUMENT', 'A password needs at least 8 characters.');
    if (email !== undefined && !EMAIL.test(email))
      throw new BatonError('ERR_INVALID_ARGUMENT', `--email must be an email address, not ${JSON.stringify(email.slice(0, 70))}.`);
    if (email !== undefined && (await store.getRecord(EMAILS, email.toLowerCase())) !== null)
      throw new BatonError('ERR_INVALID_ARGUMENT', `Another user has the email ${email}.`);
    const user: User = {
      id: `usr_${randomBytes(9).toString('base64url')}`,
      username,
      passwordHash: await hash(password),
      createdAt: Date.now(),
      scopes: parseScope(scopes),
      ...(email === undefined ? {} : { email }),
    };
    if (!(await store.putRecord(USERS, username.toLowerCase(), JSON.stringify(user), { ifAbsent: true }))) {
      throw new BatonError('ERR_INVALID_ARGUMENT', `The user ${username} already exists.`);
    }
    await store.putRecord(NAMES, user.id, username);
    if (email !== undefined) await store.putRecord(EMAILS, email.toLowerCase(), username);
    return user;
  },
  /** A user made by a provider's sign-in (`providers.ts`): no password (none can sign in with one), no scope; null when the name is taken. */
  async addLinked(store: BatonStore, username: string): Promise<User | null> {
    const user: User = { id: `usr_${randomBytes(9).toString('base64url')}`, username, passwordHash: '', createdAt: Date.now(), scopes: [] };
    if (!(await store.putRecord(USERS, username.toLowerCase(), JSON.stringify(user), { ifAbsent: true }))) return null;
    await store.putRecord(NAMES, user.id, username);
    return user;
  },
  /** The user of an email: the one given it (`add --email`), or the one whose username it is. */
  async byEmail(store: BatonStore, email: string): Promise<User | null> {
    if (!EMAIL.test(email)) return null;
    const name = await store.getRecord(EMAILS, email.toLowerCase());
    const user = name === null ? null : await users.get(store, name);
    // The same address but for the case of its ASCII letters: Unicode's lowercasing makes the Kelvin
    // sign (U+212A) a "k", so `\u212Aate@…`, another address a provider may verify for someone else,
    // would otherwise find kate@…'s user.
    if (user?.email !== undefined && asciiLower(user.email) === asciiLower(email)) return user;
    return USERNAME.test(email) ? users.get(store, email) : null;
  },
  async get(store: BatonStore, username: string): Promise<User | null> {
    const raw = await store.getRecord(USERS, username.toLowerCase());
    return raw === null ? null : read(raw);
  },
  async list(store: BatonStore): Promise<User[]> {
    return (await store.listRecords(USERS)).map((r) => read(r.value));
  },
  async remove(store: BatonStore, username: string): Promise<boolean> {
    const user = await users.get(store, username);
    if (user !== null) await store.deleteRecord(NAMES, user.id);
    if (user?.email !== undefined) await store.deleteRecord(EMAILS, user.email.toLowerCase());
    if (user !== null) await forgetConsents(store, user.id);
    if (user !== null) for (const p of await passkeyRecords.list(store, user.id)) await passkeyRecords.remove(store, user.id, p.id);
    return store.deleteRecord(USERS, username.toLowerCase());
  },
  /**
   * The username of a user id, or undefined. Remembered once found (`GET /auth/me` asks at every
   * call): a user's name never changes, and a removed user's id is never given again.
   */
  async nameOf(store: BatonStore, id: string): Promise<string | undefined> {
    const known = NAMES_SEEN.get(id);
    if (known !== undefined) return known;
    const name = (await store.getRecord(NAMES, id)) ?? undefined;
    if (name !== undefined) NAMES_SEEN.set(id, name);
    return name;
  },
  /** The user of an id, or null. */
  async byId(store: BatonStore, id: string): Promise<User | null> {
    const name = await users.nameOf(store, id);
    const user = name === undefined ? null : await users.get(store, name);
    // `nameOf` remembers a removed user's name, which a new user may have taken since: not this id's user.
    return user !== null && user.id === id ? user : null;
  },
  /** Indexes the users added before the index existed (`nameOf`); run at start-up. Resolves to how many it added. */
  async indexNames(store: BatonStore): Promise<number> {
    const known = new Set((await store.listRecords(NAMES)).map((r) => r.key));
    const missing = (await users.list(store)).filter((u) => !known.has(u.id));
    for (const u of missing) await store.putRecord(NAMES, u.id, u.username);
    return missing.length;
  },
  /** Sets the scopes a user may be granted; sessions already open keep theirs until they end. */
  async setScopes(store: BatonStore, username: string, scopes: string): Promise<User> {
    const user = await users.get(store, username);
    if (user === null) throw new BatonError('ERR_INVALID_ARGUMENT', `There is no user ${username}.`);
    const updated = { ...user, scopes: parseScope(scopes) };
    await write(store, updated);
    return updated;
  },
  /** Sets a new password (the caller ends the user's sessions: `Baton.passwordChanged`). */
  async setPassword(store: BatonStore, username: string, password: string): Promise<User> {
    if (password.length < 8) throw new BatonError('ERR_INVALID_ARGUMENT', 'A password needs at least 8 characters.');
    const user = await users.get(store, username);
    if (user === null) throw new BatonError('ERR_INVALID_ARGUMENT', `There is no user ${username}.`);
    const updated = { ...user, passwordHash: await hash(password) };
    await write(store, updated);
    return updated;
  },
  /** Checks a password in about the same time whether or not the user exists. */
  async authenticate(store: BatonStore, username: string, password: string): Promise<User | null> {
    const user = USERNAME.test(username) ? await users.get(store, username) : null;
    // A user made by a provider's sign-in has no password hash: the dummy's work for them too, so that the
    // answer's time does not tell them from a user who does not exist.
    const ok = await verify(user?.passwordHash || (await DUMMY_HASH), password).catch(() => false);
    return ok && user !== null && user.passwordHash !== '' ? user : null;
  },
};
