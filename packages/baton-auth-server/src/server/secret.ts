/**
 * The service secret (`BATON_SECRET`, `BATON_SECRET_FILE`, or the file beside an embedded database) and the sealing of
 * records under it: JWE `dir` + `A256GCM` (jose) with a key-encryption key derived by HKDF-SHA256 (RFC 5869). Key
 * custody (`custody.ts`) keeps the keys in the store only sealed this way, and re-exports what is public here.
 */
import { createHash, hkdfSync, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { compactDecrypt, CompactEncrypt, decodeProtectedHeader } from 'jose';
import { BatonConfigError } from 'baton-auth';
import type { ServerConfig } from './config.ts';
import { checkPrivate, writeSecretFile } from './files.ts';
import { batonCommand } from '../cli/command.ts';

const BATON = batonCommand();

/** Where the service secret comes from, for messages. */
export interface ServiceSecret {
  bytes: Uint8Array;
  /** `BATON_SECRET`, `BATON_SECRET_FILE=<path>`, the generated file's path, or `an in-memory secret`. */
  origin: string;
  /** The file it lives in, when it is one Baton manages (the embedded default). */
  managedFile?: string;
}

/** A random service secret as `baton secret generate` prints it: 32 bytes, base64url. */
export function generateSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** The key-encryption key and its id (a fingerprint that says which secret sealed a record, and reveals nothing of it). */
export function kek(secret: Uint8Array): { key: Uint8Array; kid: string } {
  const key = new Uint8Array(hkdfSync('sha256', secret, 'baton/key-custody', 'v1 A256GCM key-encryption key', 32));
  return { key, kid: createHash('sha256').update('baton/kek-id').update(key).digest('base64url').slice(0, 16) };
}

/** Seals `value` for the record `name`; the name is in the protected header, so a sealed record cannot be moved to another. */
export async function seal(secret: Uint8Array, name: string, value: unknown): Promise<string> {
  const { key, kid } = kek(secret);
  return new CompactEncrypt(Buffer.from(JSON.stringify(value))).setProtectedHeader({ alg: 'dir', enc: 'A256GCM', kid, cty: `baton-${name}` }).encrypt(key);
}

/** The id of the secret that sealed a record. */
export function sealedBy(name: string, sealed: string): unknown {
  try {
    return decodeProtectedHeader(sealed).kid;
  } catch {
    throw new BatonConfigError(`The store's ${name} record is not sealed as Baton seals it; it may have been written by another program.`);
  }
}

/** Opens a sealed record, or throws a `BatonConfigError` that says which secret is needed. */
export async function unseal<T>(secret: ServiceSecret, name: string, sealed: string): Promise<T> {
  const { key, kid } = kek(secret.bytes);
  const header = { kid: sealedBy(name, sealed) };
  if (header.kid !== kid) {
    throw new BatonConfigError(
      `The store's keys were sealed with another service secret (id ${String(header.kid)}) than ${secret.origin} (id ${kid}). Start with the secret this store was created with; a new one would log everyone out.`,
    );
  }
  try {
    const { plaintext, protectedHeader } = await compactDecrypt(sealed, key, { keyManagementAlgorithms: ['dir'], contentEncryptionAlgorithms: ['A256GCM'] });
    if (protectedHeader.cty !== `baton-${name}`) throw new BatonConfigError('record moved');
    return JSON.parse(Buffer.from(plaintext).toString('utf8')) as T;
  } catch {
    throw new BatonConfigError(`The store's ${name} record does not open with ${secret.origin}: it was altered, or moved from another record.`);
  }
}

/** The secret file Baton keeps beside an embedded SQLite database: `data/baton.sqlite` → `data/baton.secret`. */
export function defaultSecretFile(storeUrl: string): string | undefined {
  if (!storeUrl.startsWith('sqlite:')) return undefined;
  const path = storeUrl.slice('sqlite:'.length);
  if (path === ':memory:') return undefined;
  return join(dirname(path), `${basename(path, extname(path))}.secret`);
}

/**
 * Reads a secret file. The one Baton generated (`managed`) must be this user's and 0600; a file
 * the operator names (a mounted secret) may be shared by design, so a mode open to others is a warning.
 */
export function readSecretFile(path: string, origin: string, managed = false): Uint8Array {
  if (managed) checkPrivate(path, 'secret');
  let text: string;
  try {
    text = readFileSync(path, 'utf8').trim();
    if (!managed && (statSync(path).mode & 0o077) !== 0)
      process.emitWarning(`${origin} can be read by other users of this machine; chmod 600 it.`, { code: 'BATON_SECRET_FILE_MODE' });
  } catch (err) {
    throw new BatonConfigError(
      `${origin} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}); give the path of the file that holds the service secret.`,
    );
  }
  return checkedSecret(text, origin);
}

export function checkedSecret(text: string, origin: string): Uint8Array {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length < 32) throw new BatonConfigError(`${origin} must be at least 32 characters; make one with \`${BATON} secret generate\`.`);
  return bytes;
}

/**
 * The service secret of `config`, for a store that does (`sealed`) or does not yet hold keys.
 * Networked stores need an explicit one; the embedded default generates its file on first start
 * and never after.
 */
export function serviceSecret(config: Pick<ServerConfig, 'store' | 'secret' | 'secretFile'>, sealed: boolean): ServiceSecret {
  if (config.secret !== undefined) return { bytes: checkedSecret(config.secret, 'BATON_SECRET'), origin: 'BATON_SECRET' };
  if (config.secretFile !== undefined) {
    const origin = `BATON_SECRET_FILE=${config.secretFile}`;
    return { bytes: readSecretFile(config.secretFile, origin), origin };
  }
  if (config.store === 'memory:' || config.store === 'sqlite::memory:') return { bytes: randomBytes(32), origin: 'an in-memory secret' };
  const file = defaultSecretFile(config.store);
  if (file === undefined) {
    throw new BatonConfigError(
      `BATON_STORE is a networked store: set BATON_SECRET or BATON_SECRET_FILE to a secret kept outside it (make one with \`${BATON} secret generate\`), so that a copy of the store cannot mint tokens.`,
    );
  }
  if (existsSync(file)) return { bytes: readSecretFile(file, file, true), origin: file, managedFile: file };
  if (sealed) {
    throw new BatonConfigError(
      `The store holds keys sealed by a service secret, but ${file} is missing. Restore it from your backup (or set BATON_SECRET_FILE); a new secret would log everyone out.`,
    );
  }
  writeSecretFile(file, generateSecret());
  return { bytes: readSecretFile(file, file, true), origin: file, managedFile: file };
}
