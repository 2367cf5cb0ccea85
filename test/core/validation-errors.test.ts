/**
 * Every error is a BatonError: each option validator of the library (the service's: test/server/settings.test.ts), walked with
 * bad values in each option, fails — when it fails — with a BatonError (ERR_CONFIG or
 * ERR_INVALID_ARGUMENT), never a plain Error, TypeError or RangeError.
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createBaton, generateKey, isBatonError } from 'baton-auth';
import type { Baton, BatonOptions } from 'baton-auth';
import { checkOrigins, checkResources, createAuthHandler, createLoginProtection, resourceMetadataDocument, staticClients } from 'baton-auth/http';
import { memoryStore } from 'baton-auth/stores/memory';

/** Values a careless caller passes: wrong types, empty, negative, fractional, huge. */
const BAD: unknown[] = [
  -1,
  0,
  1.5,
  Number.NaN,
  Infinity,
  2 ** 53,
  '',
  ' ',
  'x',
  '1d',
  '-5m',
  'bogus://',
  'http://a#b',
  null,
  [],
  {},
  [''],
  ['x'],
  [1],
  true,
  { max: 0 },
  { max: -1, window: 'x' },
];
const bad = fc.constantFrom(...BAD);

/** Calls `make`; a throw must be a BatonError whose message is a sentence. */
async function refusesWithBatonError(make: () => unknown): Promise<void> {
  try {
    await make();
  } catch (err) {
    expect(isBatonError(err), `${(err as Error)?.constructor?.name}: ${(err as Error)?.message}`).toBe(true);
    expect((err as Error).message.length).toBeGreaterThan(10);
  }
}

/** Each of `keys` set to a bad value in turn, on top of good options. */
function walk<T extends object>(good: () => T, keys: readonly string[], make: (options: T) => unknown): Promise<void> {
  return fc.assert(
    fc.asyncProperty(fc.constantFrom(...keys), bad, async (key, value) => {
      await refusesWithBatonError(() => make({ ...good(), [key]: value }));
    }),
    { numRuns: 300 },
  );
}

const batonOptions = (): BatonOptions => ({
  issuer: 'https://auth.test',
  keys: [generateKey('HS256')],
  refreshTokenSecret: randomBytes(32),
  store: memoryStore(),
});
const BATON_KEYS = [
  'issuer',
  'audience',
  'keys',
  'refreshTokenSecret',
  'previousRefreshTokenSecrets',
  'accessTokenTtl',
  'refreshTokenTtl',
  'sessionMaxAge',
  'refreshGrace',
  'leeway',
  'maxSessionsPerUser',
  'tokenFormat',
  'loginRateLimit',
  'refreshRateLimit',
  'refreshGraceLimit',
  'verifyCache',
  'maxTokenLength',
  'defaultScope',
  'dpop',
];

describe('option validation throws BatonErrors only', () => {
  it('createBaton', () => walk(batonOptions, BATON_KEYS, (o) => createBaton(o)));

  it('createAuthHandler', async () => {
    const baton: Baton = createBaton(batonOptions());
    const good = () => ({ baton, authenticate: async () => null, issuer: 'https://auth.test' });
    await walk(good, ['issuer', 'clients', 'defaultClientId', 'resources', 'scopes', 'allowedOrigins', 'cookie', 'maxBodyBytes', 'dpop'], (o) =>
      createAuthHandler(o as never),
    );
  });

  it('staticClients, checkResources, checkOrigins', async () => {
    const client = () => ({
      id: 'web',
      secret: 'x'.repeat(40),
      scopes: ['a'],
      resources: ['https://api.test'],
      grantTypes: ['client_credentials'],
      dpop: 'allowed',
      introspect: true,
    });
    await walk(client, ['id', 'secret', 'scopes', 'resources', 'grantTypes', 'dpop', 'introspect'], (c) => staticClients([c as never]));
    await fc.assert(
      fc.asyncProperty(bad, async (v) => {
        await refusesWithBatonError(() => checkResources([v] as never, 'test'));
        await refusesWithBatonError(() => checkOrigins([v] as never, 'test'));
      }),
    );
  });

  it('createLoginProtection and resourceMetadataDocument', async () => {
    await walk(
      () => ({}),
      ['failures', 'failuresPerIp', 'keyPrefix'],
      (o) => createLoginProtection(o as never),
    );
    await fc.assert(
      fc.asyncProperty(bad, bad, async (max, ms) => {
        await refusesWithBatonError(() => createLoginProtection({ failures: { max, blockMs: ms } } as never));
        await refusesWithBatonError(() => createLoginProtection({ failuresPerIp: { max, windowMs: ms } } as never));
      }),
    );
    await walk(
      () => ({ resource: 'https://api.test', authorizationServers: ['https://auth.test'] }),
      ['resource', 'authorizationServers', 'scopes', 'name'],
      (o) => resourceMetadataDocument(o as never),
    );
  });
});
