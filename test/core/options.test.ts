import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { toMs } from '../../packages/baton-auth/src/core/duration.ts';
import { BatonConfigError, MAX_SESSIONS_PER_USER, createBaton, generateKey, KeyRing } from 'baton-auth';
import type { BatonOptions } from 'baton-auth';
import { memoryStore } from 'baton-auth/stores/memory';

const base = (): BatonOptions => ({
  issuer: 'https://auth.test',
  keys: [generateKey('HS256')],
  refreshTokenSecret: randomBytes(32),
  store: memoryStore(),
});

/** The message createBaton fails with for these options. */
function failure(overrides: Record<string, unknown>): string {
  try {
    createBaton({ ...base(), ...overrides } as BatonOptions);
  } catch (err) {
    expect(err).toBeInstanceOf(BatonConfigError);
    expect((err as BatonConfigError).code).toBe('ERR_CONFIG');
    return (err as Error).message;
  }
  throw new Error('expected createBaton to fail');
}

describe('createBaton fails fast, saying what to fix', () => {
  it('refresh lifetime not longer than the access lifetime', () => {
    expect(failure({ accessTokenTtl: '1h', refreshTokenTtl: '30m' })).toMatch(/refreshTokenTtl.*\(30m\).*longer than.*accessTokenTtl.*\(1h\)/);
    expect(failure({ accessTokenTtl: '1h', refreshTokenTtl: '1h' })).toMatch(/must be longer/);
  });

  it('an HS256 key shorter than 256 bits (RFC 7518 §3.2)', () => {
    expect(failure({ keys: [{ kid: 'k', alg: 'HS256', secret: 'short-secret' }] })).toMatch(/at least 256 bits.*RFC 7518 §3\.2.*12 bytes/);
  });

  it('an unknown algorithm, alg none included', () => {
    expect(failure({ keys: [{ kid: 'k', alg: 'RS384', secret: 'x'.repeat(40) }] })).toMatch(/unknown algorithm "RS384"/);
    expect(failure({ keys: [{ kid: 'k', alg: 'RS256', secret: 'x'.repeat(40) }] })).toMatch(/RS256\) needs a `privateKey`/); // a secret is not an RSA key
    expect(failure({ keys: [{ kid: 'k', alg: 'none' }] })).toMatch(/unknown algorithm "none"/);
  });

  it('a grace window longer than the refresh lifetime', () => {
    expect(failure({ accessTokenTtl: '1m', refreshTokenTtl: '5m', refreshGrace: '10m' })).toMatch(/refreshGrace.*\(10m\).*refreshTokenTtl.*\(5m\)/);
  });

  it('missing or weak secrets, a missing key, a missing store, typos', () => {
    expect(failure({ refreshTokenSecret: undefined })).toMatch(/refreshTokenSecret.*required/);
    expect(failure({ refreshTokenSecret: 'abc' })).toMatch(/at least 32 bytes.*has 3/);
    expect(failure({ keys: [] })).toMatch(/at least one key/);
    expect(failure({ keys: [{ kid: 'k', alg: 'HS256' }] })).toMatch(/needs a `secret`/);
    expect(failure({ keys: [{ kid: 'k', alg: 'ES256' }] })).toMatch(/needs a `privateKey`/);
    expect(failure({ store: undefined })).toMatch(/store.*memoryStore/);
    expect(failure({ acessTokenTtl: '5m' })).toMatch(/Unknown option "acessTokenTtl"/);
    expect(failure({ issuer: '' })).toMatch(/issuer.*required/);
  });

  it('keys of the wrong kind or shape', () => {
    const ed = generateKey('EdDSA');
    expect(failure({ keys: [{ ...ed, alg: 'ES256' }] })).toMatch(/ES256 needs an EC P-256 key, got ed25519/);
    expect(failure({ keys: [generateKey('HS256', 'a'), generateKey('HS256', 'a')] })).toMatch(/share the kid "a"/);
    expect(
      failure({
        keys: [
          { ...generateKey('HS256', 'a'), status: 'active' },
          { ...generateKey('HS256', 'b'), status: 'active' },
        ],
      }),
    ).toMatch(/Only one signing key/);
    expect(failure({ tokenFormat: 'jwe' })).toMatch(/needs an encryption key.*generateKey\('dir'\)/);
    expect(failure({ tokenFormat: 'paseto' })).toMatch(/tokenFormat/);
    expect(failure({ keys: [{ kid: 'e', alg: 'dir', secret: 'x'.repeat(33) }] })).toMatch(/exactly 32 bytes/);
  });

  it('a JWK that says it is for something else (RFC 7517 §4.2-4.4)', () => {
    const ed = generateKey('EdDSA', 'ed') as { privateKey: Record<string, unknown> };
    const withJwk = (members: Record<string, unknown>) => ({ keys: [{ kid: 'ed', alg: 'EdDSA', privateKey: { ...ed.privateKey, ...members } }] });
    expect(failure(withJwk({ use: 'enc' }))).toMatch(/key "ed": its JWK is for use "enc", not signatures \(RFC 7517 §4\.2\)/);
    expect(failure(withJwk({ key_ops: ['verify'] }))).toMatch(/key_ops do not allow "sign" \(RFC 7517 §4\.3\)/);
    expect(failure(withJwk({ alg: 'ES256' }))).toMatch(/its JWK is for ES256, not EdDSA \(RFC 7517 §4\.4\)/);
    const { d: _d, ...publicJwk } = ed.privateKey;
    expect(
      failure({ keys: [generateKey('HS256', 'h'), { kid: 'pub', alg: 'EdDSA', publicKey: { ...publicJwk, key_ops: ['encrypt'] }, status: 'next' }] }),
    ).toMatch(/key "pub": its JWK's key_ops do not allow "verify"/);
    for (const fine of [{}, { use: 'sig', alg: 'EdDSA', key_ops: ['sign'] }, { alg: 'Ed25519' }])
      expect(() => createBaton({ ...base(), ...withJwk(fine) } as BatonOptions)).not.toThrow();
  });

  it('bad durations and numbers', () => {
    expect(failure({ accessTokenTtl: '15 minutes' })).toMatch(/accessTokenTtl must be seconds or a duration like/);
    expect(failure({ accessTokenTtl: -5 })).toMatch(/non-negative/);
    expect(failure({ maxSessionsPerUser: 1.5 })).toMatch(/maxSessionsPerUser.*whole number/);
    expect(failure({ refreshRateLimit: { max: 0, window: '1m' } })).toMatch(/refreshRateLimit\.max/);
    // Red team: a window of 0 opened a new window at every attempt, so the limit counted nothing.
    for (const window of [0, '0s', '0m']) {
      expect(failure({ refreshRateLimit: { max: 30, window } })).toMatch(/`refreshRateLimit\.window` must be longer than 0/);
      expect(failure({ loginRateLimit: { max: 30, window } })).toMatch(/`loginRateLimit\.window` must be longer than 0/);
    }
    for (const bad of [0, 2.5, -1, '10']) expect(failure({ refreshGraceLimit: bad })).toMatch(/refreshGraceLimit.*whole number of at least 1/);
    expect(failure({ leeway: '1500ms' })).toMatch(/whole seconds/);
  });

  it(`maxSessionsPerUser has no unlimited setting: 0 (once "no limit") and more than MAX_SESSIONS_PER_USER (${MAX_SESSIONS_PER_USER}) are refused with a sentence naming the ceiling`, () => {
    for (const bad of [0, MAX_SESSIONS_PER_USER + 1, 100_000, -1]) {
      expect(failure({ maxSessionsPerUser: bad })).toBe(
        `\`maxSessionsPerUser\` must be a whole number from 1 (a single session per user) to ${MAX_SESSIONS_PER_USER}: a login, the device list and "log out everywhere" read all of a user's active sessions, so there is no unlimited setting (0 no longer means no limit).`,
      );
    }
    for (const fine of [1, 50, MAX_SESSIONS_PER_USER]) expect(() => createBaton({ ...base(), maxSessionsPerUser: fine })).not.toThrow();
  });

  it('accepts a ready KeyRing and sensible defaults', () => {
    const ring = new KeyRing([generateKey('EdDSA', 'e1')]);
    expect(createBaton({ ...base(), keys: ring }).keys).toBe(ring);
  });
});

describe('durations', () => {
  it('reads seconds and unit strings', () => {
    expect(toMs(90, 'x')).toBe(90_000);
    expect(toMs('90s', 'x')).toBe(90_000);
    expect(toMs('15m', 'x')).toBe(900_000);
    expect(toMs('12h', 'x')).toBe(43_200_000);
    expect(toMs('7d', 'x')).toBe(604_800_000);
    expect(toMs('2w', 'x')).toBe(1_209_600_000);
    expect(toMs('250ms', 'x')).toBe(250);
    expect(toMs('1.5h', 'x')).toBe(5_400_000);
    for (const bad of ['', 'm', '5 x', '-5s', 'Infinity', NaN, Infinity, '1e3s']) expect(() => toMs(bad as never, 'x')).toThrow(BatonConfigError);
  });
});
