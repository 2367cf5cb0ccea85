/**
 * Encrypted Redis storage for backends that hold many users' tokens toward another API: one key
 * per user, AES-256-GCM with a key from configuration and, as additional data, the Redis key, the
 * issuer and the user id (a ciphertext moved to another user's or another partner's key does not
 * decrypt there), a TTL a little shorter than the refresh token's
 * life, and a Redis lock around each refresh so that several instances never spend one refresh
 * token twice. Import from `baton-auth-client/node`.
 *
 * It keeps no DPoP key (RFC 9449): a private key in Redis beside the tokens it protects would be
 * taken with them, which is what DPoP is there to prevent. Clients over it use Bearer tokens,
 * unless the app gives every instance the same key pair from where it keeps secrets
 * (`dpop: { keyPair }`).
 *
 * @example
 * ```ts
 * const storage = redisTokenStorage({ redis, key: Buffer.from(process.env.TOKEN_KEY!, 'base64'), issuer: 'https://partner.example.com', userId });
 * const client = createTokenClient({ issuer: 'https://partner.example.com', storage });
 * ```
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { checkNumbers, configError } from './errors.ts';
import type { StoredTokens, TokenStorage } from './types.ts';

/** Options of `redisTokenStorage`. */
export interface RedisTokenStorageOptions {
  redis: Redis | Cluster;
  /** 32 bytes (AES-256). */
  key: Uint8Array;
  /** The issuer whose tokens these are: bound into each record, so one partner's record never opens as another's. */
  issuer: string;
  userId: string;
  /** Key prefix. Default `baton-client:`. */
  prefix?: string;
  /** TTL when the server gives no refresh-token lifetime, in ms. Default 30 days. */
  ttlMs?: number;
  /** How much sooner than the refresh token the record expires, in ms. Default 60 s. */
  marginMs?: number;
  /** Longest refresh another instance may hold the lock for, in ms. Default 10 s. */
  lockMs?: number;
}

const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/** Throws `ERR_CONFIG` unless the options are whole: a Redis client, a 32-byte key, the issuer and the user. */
function checkOptions(o: RedisTokenStorageOptions): void {
  if (typeof o !== 'object' || o === null || typeof o.redis?.get !== 'function')
    throw configError('redisTokenStorage needs `redis`, an ioredis client (Redis or Cluster).');
  if (!(o.key instanceof Uint8Array) || o.key.length !== 32)
    throw configError("redisTokenStorage needs a 32-byte key (AES-256-GCM): `key: Buffer.from(process.env.TOKEN_KEY, 'base64')`.");
  if (typeof o.issuer !== 'string' || o.issuer === '') throw configError('redisTokenStorage needs the `issuer` whose tokens it keeps.');
  if (typeof o.userId !== 'string' || o.userId === '') throw configError('redisTokenStorage needs the `userId` whose tokens it keeps, a non-empty string.');
  if (o.prefix !== undefined && typeof o.prefix !== 'string') throw configError('redisTokenStorage: `prefix` must be a string.');
  checkNumbers('redisTokenStorage', o, ['ttlMs', 'marginMs', 'lockMs'], 0);
}

/** Tokens of one user in Redis, encrypted. */
export function redisTokenStorage(o: RedisTokenStorageOptions): TokenStorage {
  checkOptions(o);
  const prefix = o.prefix ?? 'baton-client:';
  // One record per issuer and user (two partners with a user id in common never share one); the
  // user id is the hash tag, so a cluster keeps the record and its lock on one node.
  const partner = createHash('sha256').update(o.issuer).digest('base64url').slice(0, 16);
  const key = `${prefix}{${o.userId}}:${partner}:tokens`;
  const lockKey = `${prefix}{${o.userId}}:${partner}:lock`;
  // A JSON array: no two (key, issuer, user) triples share one encoding.
  const aad = Buffer.from(JSON.stringify(['baton-client/2', key, o.issuer, o.userId]));
  const encrypt = (tokens: StoredTokens): string => {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', o.key, iv).setAAD(aad);
    const body = Buffer.concat([cipher.update(JSON.stringify(tokens), 'utf8'), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64');
  };
  const decrypt = (value: string): StoredTokens | null => {
    try {
      const raw = Buffer.from(value, 'base64');
      const decipher = createDecipheriv('aes-256-gcm', o.key, raw.subarray(0, 12)).setAAD(aad);
      decipher.setAuthTag(raw.subarray(12, 28));
      return JSON.parse(Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8')) as StoredTokens;
    } catch {
      return null; // another key, another user's record, or tampering: as if absent
    }
  };
  // No `id`: two storages over different Redis servers or keys must not share a refresh.
  return {
    async get() {
      const value = await o.redis.get(key);
      return value === null ? null : decrypt(value);
    },
    async set(tokens) {
      const ttl = tokens.refreshExpiresAt !== undefined ? tokens.refreshExpiresAt - Date.now() - (o.marginMs ?? 60_000) : (o.ttlMs ?? 30 * 86_400_000);
      if (ttl <= 0) await o.redis.del(key);
      else await o.redis.set(key, encrypt(tokens), 'PX', Math.round(ttl));
    },
    async clear() {
      await o.redis.del(key);
    },
    async withLock(fn) {
      const owner = randomUUID();
      const lockMs = o.lockMs ?? 10_000;
      const end = Date.now() + lockMs;
      while ((await o.redis.set(lockKey, owner, 'PX', lockMs, 'NX')) !== 'OK') {
        if (Date.now() > end) return fn(); // a stuck holder: the server's grace window covers a duplicate
        await new Promise((r) => setTimeout(r, 25));
      }
      try {
        return await fn();
      } finally {
        await o.redis.eval(RELEASE, 1, lockKey, owner).catch(() => undefined);
      }
    },
  };
}
