/**
 * Every error the SDK throws is a `BatonClientError` with a code: its option validation walked —
 * `createTokenClient`, `browserStorage`, `fileStorage`, `redisTokenStorage` — first case by case,
 * each bad option with the code and the option's name in the sentence, then with arbitrary values
 * (fast-check) for every option at once, and the methods that take a URL given one that is not.
 * Nothing here reaches a server.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BatonClientError, browserStorage, createTokenClient, generateDpopKeyPair, memoryStorage } from 'baton-auth-client';
import type { BatonClientErrorCode, TokenClientOptions } from 'baton-auth-client';
import { fileStorage, redisTokenStorage } from 'baton-auth-client/node';

const ISSUER = 'https://auth.test';

/** Every code the SDK declares (the list is checked against the type: a code added there fails to compile here until listed). */
const CODES = [
  'ERR_CONFIG',
  'ERR_INVALID_ARGUMENT',
  'ERR_NOT_SIGNED_IN',
  'ERR_SESSION_ENDED',
  'ERR_REFRESH_UNAVAILABLE',
  'ERR_CLIENT_REJECTED',
  'ERR_DISCOVERY',
  'ERR_ORIGIN_NOT_ALLOWED',
  'ERR_STORAGE_UNSAFE',
  'ERR_SIGN_IN_REFUSED',
  'ERR_DPOP_KEY_MISSING',
  'ERR_NO_PENDING_SIGN_IN',
  'ERR_STATE_MISMATCH',
  'ERR_ISSUER_MISMATCH',
  'ERR_AUTHORIZATION_REFUSED',
  'ERR_ID_TOKEN_INVALID',
  'ERR_SIGN_IN_TIMEOUT',
  'ERR_BROWSER_NOT_OPENED',
] as const satisfies readonly BatonClientErrorCode[];
type Missing = Exclude<BatonClientErrorCode, (typeof CODES)[number]>;
const everyCodeListed: Missing extends never ? true : Missing = true;

/** What `fn` threw, or undefined; the thrown value must be a BatonClientError with a declared code. */
function thrown(fn: () => unknown): BatonClientError | undefined {
  try {
    const made = fn() as { close?: () => void } | undefined;
    made?.close?.();
    return undefined;
  } catch (err) {
    expect(err, String(err)).toBeInstanceOf(BatonClientError);
    expect(CODES).toContain((err as BatonClientError).code);
    return err as BatonClientError;
  }
}

const fakeRedis = { get: async () => null, set: async () => 'OK', del: async () => 0, eval: async () => 0 } as never;
const redisOptions = { redis: fakeRedis, key: new Uint8Array(32), issuer: ISSUER, userId: 'u1' };
const rsa = await crypto.subtle.generateKey(
  { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
  false,
  ['sign', 'verify'],
);
const bare = { get: async () => null, set: async () => undefined, clear: async () => undefined };

describe('option validation: each bad option is a BatonClientError with a code and names what to change', () => {
  const cases: [string, () => unknown, BatonClientErrorCode, RegExp][] = [
    ['no options', () => createTokenClient(undefined as never), 'ERR_CONFIG', /options object/],
    ['neither issuer nor endpoints', () => createTokenClient({}), 'ERR_CONFIG', /`issuer`.*`endpoints/],
    ['an empty issuer', () => createTokenClient({ issuer: '' }), 'ERR_CONFIG', /`issuer`/],
    ['an issuer of the wrong type', () => createTokenClient({ issuer: 42 as never }), 'ERR_CONFIG', /`issuer` must be a string/],
    ['an issuer that is no URL', () => createTokenClient({ issuer: 'not a url' }), 'ERR_DISCOVERY', /issuer/],
    ['an issuer on plain http', () => createTokenClient({ issuer: 'http://auth.example.com' }), 'ERR_DISCOVERY', /not https/],
    ['endpoints without a token endpoint', () => createTokenClient({ endpoints: {} as never }), 'ERR_CONFIG', /`endpoints`/],
    [
      'a revocation endpoint on plain http',
      () => createTokenClient({ endpoints: { token: `${ISSUER}/t`, revocation: 'http://x.example/r' } }),
      'ERR_DISCOVERY',
      /revocation endpoint/,
    ],
    ['clientAuthentication without clientId', () => createTokenClient({ issuer: ISSUER, clientAuthentication: { secret: 's' } }), 'ERR_CONFIG', /clientId/],
    [
      'clientAuthentication without a secret',
      () => createTokenClient({ issuer: ISSUER, clientId: 'c', clientAuthentication: {} as never }),
      'ERR_CONFIG',
      /`clientAuthentication`/,
    ],
    ['allowedOrigins as a string', () => createTokenClient({ issuer: ISSUER, allowedOrigins: 'https://api.test' as never }), 'ERR_CONFIG', /`allowedOrigins`/],
    [
      'an allowed origin on plain http',
      () => createTokenClient({ issuer: ISSUER, allowedOrigins: ['http://api.example.com'] }),
      'ERR_DISCOVERY',
      /allowed origin/,
    ],
    ['a storage without get/set/clear', () => createTokenClient({ issuer: ISSUER, storage: {} as never }), 'ERR_CONFIG', /`storage`/],
    ['an unknown mode', () => createTokenClient({ issuer: ISSUER, mode: 'cookies' as never }), 'ERR_CONFIG', /`mode`/],
    ['a negative refreshMargin', () => createTokenClient({ issuer: ISSUER, refreshMargin: -1 }), 'ERR_CONFIG', /`refreshMargin`/],
    ['a jitter that is not a number', () => createTokenClient({ issuer: ISSUER, jitter: Number.NaN }), 'ERR_CONFIG', /`jitter`/],
    // fast-check's counterexample of 2026-12-07: String() of it throws a TypeError, which the sentence must not.
    [
      'a jitter whose toString is not a function',
      () => createTokenClient({ issuer: ISSUER, jitter: { toString: 0 } as never }),
      'ERR_CONFIG',
      /`jitter`.*a value of type object/,
    ],
    ['zero attempts', () => createTokenClient({ issuer: ISSUER, retry: { attempts: 0 } }), 'ERR_CONFIG', /`retry.attempts`/],
    ['half an attempt', () => createTokenClient({ issuer: ISSUER, retry: { attempts: 1.5 } }), 'ERR_CONFIG', /`retry.attempts` must be a whole number/],
    ['hooks that are not functions', () => createTokenClient({ issuer: ISSUER, hooks: { beforeRequest: ['x'] as never } }), 'ERR_CONFIG', /`hooks`/],
    ['a fetch that is not a function', () => createTokenClient({ issuer: ISSUER, fetch: 'fetch' as never }), 'ERR_CONFIG', /`fetch` must be a function/],
    ['background as a string', () => createTokenClient({ issuer: ISSUER, background: 'yes' as never }), 'ERR_CONFIG', /`background` must be a boolean/],
    ['dpop as a string', () => createTokenClient({ issuer: ISSUER, dpop: 'on' as never }), 'ERR_CONFIG', /`dpop`/],
    ['an RSA key pair for DPoP', () => createTokenClient({ issuer: ISSUER, dpop: { keyPair: rsa } }), 'ERR_CONFIG', /ECDSA P-256/],
    [
      'dpop: true over a storage that keeps no key',
      () => createTokenClient({ issuer: ISSUER, dpop: true, storage: bare }),
      'ERR_CONFIG',
      /needs a storage that keeps a DPoP key/,
    ],
    ['browserStorage with an empty name', () => browserStorage({ name: '' }), 'ERR_CONFIG', /`name`/],
    ['browserStorage with a negative lease', () => browserStorage({ leaseMs: -5 }), 'ERR_CONFIG', /`leaseMs`/],
    ['fileStorage without a path', () => fileStorage(undefined as never), 'ERR_CONFIG', /path/],
    ['fileStorage with a lock never stale', () => fileStorage('/tmp/x.json', { staleMs: 0 }), 'ERR_CONFIG', /`staleMs`/],
    ['redisTokenStorage without redis', () => redisTokenStorage({ ...redisOptions, redis: undefined as never }), 'ERR_CONFIG', /`redis`/],
    ['redisTokenStorage with a short key', () => redisTokenStorage({ ...redisOptions, key: new Uint8Array(16) }), 'ERR_CONFIG', /32-byte key/],
    ['redisTokenStorage with a key that is a string', () => redisTokenStorage({ ...redisOptions, key: 'k'.repeat(32) as never }), 'ERR_CONFIG', /32-byte key/],
    ['redisTokenStorage without an issuer', () => redisTokenStorage({ ...redisOptions, issuer: '' }), 'ERR_CONFIG', /`issuer`/],
    ['redisTokenStorage without a user', () => redisTokenStorage({ ...redisOptions, userId: undefined as never }), 'ERR_CONFIG', /`userId`/],
    ['redisTokenStorage with a negative TTL', () => redisTokenStorage({ ...redisOptions, ttlMs: -1 }), 'ERR_CONFIG', /`ttlMs`/],
  ];

  it.each(cases)('%s', (_, make, code, sentence) => {
    const err = thrown(make);
    expect(err?.code).toBe(code);
    expect(err?.message).toMatch(sentence);
  });

  it('valid options pass, and null counts as absent', async () => {
    expect(everyCodeListed).toBe(true);
    for (const make of [
      () => createTokenClient({ issuer: ISSUER }),
      () => createTokenClient({ endpoints: { token: 'http://127.0.0.1:9/token' }, dpop: true, retry: { attempts: 1, baseMs: 0 }, hooks: {}, jitter: 0 }),
      () => createTokenClient({ issuer: ISSUER, storage: null, dpop: null, allowedOrigins: (o: string) => o.endsWith('.test') } as never),
      () => createTokenClient({ issuer: ISSUER, clientId: 'c', clientAuthentication: { secret: 's' }, mode: 'cookie', background: true }),
      () => browserStorage({ name: 'options-test', leaseMs: 1000 }),
      () => fileStorage('/tmp/never-written.json', { staleMs: 1, waitMs: 1 }),
      () => redisTokenStorage(redisOptions),
    ])
      expect(thrown(make)).toBeUndefined();
    const keyPair = await generateDpopKeyPair();
    expect(thrown(() => createTokenClient({ issuer: ISSUER, dpop: { keyPair } }))).toBeUndefined();
  });
});

/** A value for an option: often of its own type, else anything at all. */
const any = fc.oneof(fc.anything(), fc.constant(undefined), fc.constant(null), fc.func(fc.anything()));
const optionValues: { [K in keyof TokenClientOptions]-?: fc.Arbitrary<unknown> } = {
  issuer: fc.oneof(fc.constant(ISSUER), fc.webUrl(), fc.string(), any),
  endpoints: fc.oneof(fc.record({ token: fc.oneof(fc.webUrl(), fc.string()), revocation: fc.option(fc.webUrl(), { nil: undefined }) }), any),
  clientId: fc.oneof(fc.string(), any),
  clientAuthentication: fc.oneof(fc.record({ secret: fc.string() }), any),
  allowedOrigins: fc.oneof(
    fc.array(fc.oneof(fc.webUrl(), fc.string())),
    fc.constant((o: string) => o.length > 0),
    any,
  ),
  storage: fc.oneof(
    fc.constant(undefined).map(() => memoryStorage()),
    fc.constant(bare),
    any,
  ),
  mode: fc.oneof(fc.constantFrom('tokens', 'cookie', 'both'), any),
  refreshMargin: fc.oneof(fc.double(), any),
  jitter: fc.oneof(fc.double(), any),
  background: fc.oneof(fc.boolean(), any),
  retry: fc.oneof(
    fc.record({ attempts: fc.oneof(fc.integer(), fc.double()), baseMs: fc.double(), maxMs: any, maxRetryAfterMs: fc.nat() }, { requiredKeys: [] }),
    any,
  ),
  hooks: fc.oneof(fc.record({ beforeRequest: fc.array(fc.oneof(fc.func(fc.constant(undefined)), any)), afterResponse: any }, { requiredKeys: [] }), any),
  fetch: any,
  dpop: fc.oneof(fc.boolean(), fc.record({ keyPair: fc.oneof(fc.constant(rsa), any) }), any),
  now: fc.oneof(fc.constant(Date.now), any),
  monotonic: any,
};

describe('option validation, walked with arbitrary values', () => {
  it.each(Object.keys(optionValues))('createTokenClient, `%s` arbitrary and the other options valid: a client, or a BatonClientError with a code', (name) => {
    const base = name === 'endpoints' ? {} : { issuer: ISSUER };
    const values = optionValues[name as keyof TokenClientOptions];
    fc.assert(
      fc.property(values, (value) => void thrown(() => createTokenClient({ ...base, [name]: value } as TokenClientOptions))),
      { numRuns: 200 },
    );
  });

  it('createTokenClient: whatever the options, all arbitrary at once, it makes a client or throws a BatonClientError with a code', () => {
    fc.assert(
      fc.property(fc.record(optionValues, { requiredKeys: [] }), (options) => void thrown(() => createTokenClient(options as TokenClientOptions))),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(any, (options) => void thrown(() => createTokenClient(options as TokenClientOptions))),
      { numRuns: 300 },
    );
  });

  it('the storages: whatever the options, a storage or a BatonClientError with a code', () => {
    fc.assert(
      fc.property(
        fc.record({ name: fc.oneof(fc.string(), any), leaseMs: fc.oneof(fc.double(), any) }, { requiredKeys: [] }),
        (o) => void thrown(() => browserStorage(o as never)),
      ),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), any),
        fc.oneof(fc.record({ staleMs: any, waitMs: fc.double() }, { requiredKeys: [] }), any),
        (path, o) => void thrown(() => fileStorage(path as never, o as never)),
      ),
      { numRuns: 500 },
    );
    const redis = fc.record(
      {
        redis: fc.oneof(fc.constant(fakeRedis), any),
        key: fc.oneof(fc.uint8Array({ minLength: 31, maxLength: 33 }), any),
        issuer: fc.oneof(fc.constant(ISSUER), any),
        userId: fc.oneof(fc.string(), any),
        prefix: any,
        ttlMs: fc.oneof(fc.double(), any),
        marginMs: any,
        lockMs: any,
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.oneof(redis, any), (o) => void thrown(() => redisTokenStorage(o as never))),
      { numRuns: 500 },
    );
  });

  it('the methods that take a URL: one that does not parse is ERR_INVALID_ARGUMENT (or, for sign-in, ERR_DISCOVERY), never a TypeError, and client.fetch rejects rather than throws', async () => {
    const client = createTokenClient({ issuer: ISSUER, dpop: false });
    for (const bad of ['::', 'not a url', 'http://[bad']) {
      expect(thrown(() => client.websocket(bad))?.code).toBe('ERR_INVALID_ARGUMENT');
      expect(thrown(() => client.noteDpopNonce(bad, 'n'))?.code).toBe('ERR_INVALID_ARGUMENT');
      await expect(client.authorizationHeaders('GET', bad)).rejects.toMatchObject({ name: 'BatonClientError', code: 'ERR_INVALID_ARGUMENT' });
      await expect(client.signIn(bad, {})).rejects.toMatchObject({ name: 'BatonClientError', code: 'ERR_DISCOVERY' });
      await expect(client.fetch(bad)).rejects.toMatchObject({ name: 'BatonClientError', code: 'ERR_INVALID_ARGUMENT' });
    }
    client.close();
  });
});
