/**
 * Hostile access tokens: each must fail with its specific typed error, never crash, never pass.
 */
import { createHmac, randomBytes, sign as cryptoSign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BatonError, generateKey } from 'baton-auth';
import type { KeyInput } from 'baton-auth';
import { codeOf, ISSUER, makeBaton } from '../support/baton.ts';

const SECRET = randomBytes(32);
const b64 = (value: unknown): string => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const hmac = (key: Uint8Array | string, input: string): string => createHmac('sha256', key).update(input).digest('base64url');

function setup() {
  const ed = generateKey('EdDSA', 'ed');
  const es = generateKey('ES256', 'es');
  const keys: KeyInput[] = [
    { kid: 'hs', alg: 'HS256', secret: SECRET },
    { ...ed, status: 'next' },
    { ...es, status: 'next' },
  ];
  const made = makeBaton({ keys });
  const now = Math.floor(made.clock.ms / 1000);
  const claims = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    iss: ISSUER,
    sub: 'u',
    aud: ISSUER,
    exp: now + 600,
    iat: now,
    jti: randomBytes(8).toString('hex'),
    sid: 's1',
    client_id: 'web',
    ...extra,
  });
  /** A compact JWS over raw header/payload JSON text, MACed with the real HS256 secret. */
  const hs = (header: Record<string, unknown> | string, payload: Record<string, unknown> | string = claims()): string => {
    const input = `${b64(header)}.${b64(payload)}`;
    return `${input}.${hmac(SECRET, input)}`;
  };
  const header = { alg: 'HS256', typ: 'at+jwt', kid: 'hs' };
  return { ...made, claims, hs, header, ed, now };
}

describe('hostile access tokens', () => {
  it('accepts the well-formed control token (so the failures below are specific)', async () => {
    const { baton, hs, header } = setup();
    expect((await baton.verify(hs(header))).sub).toBe('u');
  });

  it('alg none, in any case, with or without a signature', async () => {
    const { baton, hs, claims } = setup();
    for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
      const unsigned = `${b64({ alg, typ: 'at+jwt', kid: 'hs' })}.${b64(claims())}.`;
      expect(await codeOf(baton.verify(unsigned))).toBe('ERR_TOKEN_INVALID');
      expect(await codeOf(baton.verify(hs({ alg, typ: 'at+jwt', kid: 'hs' })))).toBe('ERR_TOKEN_INVALID');
    }
  });

  it('algorithm confusion: HS256 MACed with the EdDSA public key as the secret', async () => {
    const { baton, claims, ed } = setup();
    const { createPublicKey, createPrivateKey } = await import('node:crypto');
    const pub = createPublicKey(createPrivateKey({ key: ed.privateKey as never, format: 'jwk' }));
    for (const secret of [pub.export({ format: 'pem', type: 'spki' }) as string, JSON.stringify(pub.export({ format: 'jwk' }))]) {
      const input = `${b64({ alg: 'HS256', typ: 'at+jwt', kid: 'ed' })}.${b64(claims())}`;
      expect(await codeOf(baton.verify(`${input}.${hmac(secret, input)}`))).toBe('ERR_TOKEN_INVALID');
    }
  });

  it('an EdDSA signature presented under the HS256 key, and the reverse', async () => {
    const { baton, claims, ed } = setup();
    const { createPrivateKey } = await import('node:crypto');
    const priv = createPrivateKey({ key: ed.privateKey as never, format: 'jwk' });
    const input = `${b64({ alg: 'EdDSA', typ: 'at+jwt', kid: 'hs' })}.${b64(claims())}`;
    expect(await codeOf(baton.verify(`${input}.${cryptoSign(null, Buffer.from(input), priv).toString('base64url')}`))).toBe('ERR_TOKEN_INVALID');
  });

  it('unknown, missing, path-like or non-string kid', async () => {
    const { baton, hs } = setup();
    for (const kid of ['nope', '../../../../etc/passwd', '/dev/null', 'hs\u0000', 42, null, ['hs']]) {
      expect(await codeOf(baton.verify(hs({ alg: 'HS256', typ: 'at+jwt', kid })))).toBe('ERR_TOKEN_INVALID');
    }
    expect(await codeOf(baton.verify(hs({ alg: 'HS256', typ: 'at+jwt' })))).toBe('ERR_TOKEN_INVALID');
  });

  it('jku, jwk, x5u and x5c headers are refused, never followed', async () => {
    const { baton, hs, header } = setup();
    const extras = [
      { jku: 'http://127.0.0.1:1/jwks.json' },
      { jwk: { kty: 'oct', k: b64('attacker') } },
      { x5u: 'http://127.0.0.1:1/cert.pem' },
      { x5c: ['MIIB'] },
    ];
    for (const extra of extras) expect(await codeOf(baton.verify(hs({ ...header, ...extra })))).toBe('ERR_TOKEN_INVALID');
  });

  it('crit with unknown names, b64: false, and any header parameter Baton never writes', async () => {
    const { baton, hs, header } = setup();
    for (const extra of [{ crit: ['exp'] }, { crit: ['foo'], foo: 1 }, { b64: false, crit: ['b64'] }, { b64: true }, { cty: 'JWT' }, { zip: 'DEF' }]) {
      expect(await codeOf(baton.verify(hs({ ...header, ...extra })))).toBe('ERR_TOKEN_INVALID');
    }
  });

  it('duplicate header names are refused', async () => {
    const { baton, hs } = setup();
    expect(await codeOf(baton.verify(hs('{"alg":"none","alg":"HS256","typ":"at+jwt","kid":"hs"}')))).toBe('ERR_TOKEN_INVALID');
  });

  it('a refresh token, or a token of another typ, presented as an access token', async () => {
    const { baton, hs } = setup();
    const pair = await baton.login('u');
    expect(await codeOf(baton.verify(pair.refresh_token))).toBe('ERR_TOKEN_INVALID');
    for (const typ of ['JWT', 'jwt', 'id+jwt', 'application/jwt', 'at+jwe', undefined]) {
      expect(await codeOf(baton.verify(hs({ alg: 'HS256', kid: 'hs', ...(typ === undefined ? {} : { typ }) })))).toBe('ERR_TOKEN_INVALID');
    }
    expect((await baton.verify(hs({ alg: 'HS256', kid: 'hs', typ: 'application/AT+JWT' }))).sub).toBe('u');
  });

  it('missing or expired exp, future nbf and iat, wrong iss and aud', async () => {
    const { baton, hs, header, claims, now } = setup();
    const { exp: _exp, ...noExp } = claims();
    expect(await codeOf(baton.verify(hs(header, noExp)))).toBe('ERR_TOKEN_INVALID');
    expect(await codeOf(baton.verify(hs(header, claims({ exp: String(now + 600) }))))).toBe('ERR_TOKEN_INVALID');
    expect(await codeOf(baton.verify(hs(header, claims({ exp: now - 6 }))))).toBe('ERR_TOKEN_EXPIRED');
    expect(await codeOf(baton.verify(hs(header, claims({ nbf: now + 60 }))))).toBe('ERR_TOKEN_NOT_YET_VALID');
    expect(await codeOf(baton.verify(hs(header, claims({ iat: now + 60 }))))).toBe('ERR_TOKEN_NOT_YET_VALID');
    expect(await codeOf(baton.verify(hs(header, claims({ iss: 'https://evil.test' }))))).toBe('ERR_TOKEN_INVALID');
    expect(await codeOf(baton.verify(hs(header, claims({ aud: 'other-api' }))))).toBe('ERR_TOKEN_INVALID');
    expect(await codeOf(baton.verify(hs(header, claims({ aud: ['other-api'] }))))).toBe('ERR_TOKEN_INVALID');
    expect((await baton.verify(hs(header, claims({ aud: ['other-api', ISSUER] })))).sub).toBe('u');
    for (const missing of ['sub', 'jti', 'sid', 'client_id', 'iat']) {
      const c = claims();
      delete c[missing];
      expect(await codeOf(baton.verify(hs(header, c)))).toBe('ERR_TOKEN_INVALID');
    }
  });

  it('a forged and expired token reports the signature, not the expiry', async () => {
    const { baton, header, claims, now } = setup();
    const input = `${b64(header)}.${b64(claims({ exp: now - 3600 }))}`;
    const forged = `${input}.${hmac(randomBytes(32), input)}`;
    const err = await baton.verify(forged).catch((e: unknown) => e as BatonError);
    expect(err).toMatchObject({ code: 'ERR_TOKEN_INVALID', detail: 'signature does not verify' });
  });

  it('non-base64url characters, padding, and the wrong number of segments', async () => {
    const { baton, hs, header } = setup();
    const good = hs(header);
    const [h, p, s] = good.split('.') as [string, string, string];
    const bad = [
      `${h}.${p}.${s}=`,
      `${h}=.${p}.${s}`,
      `${h}.${p}==.${s}`,
      `${h}.${p}.${s.slice(0, 10)}+${s.slice(11)}`,
      `${h}.${p}.${s.slice(0, 10)}/${s.slice(11)}`,
      `${h}.${p}.?${s}`,
      `${h}.${p}.${s} `,
      ` ${good}`,
      `${h}.${p}#.${s}`,
      `${h}.${p}.${s.slice(0, -1)}${s.endsWith('A') ? 'B' : 'A'}`,
      `${h}.${p}`,
      `${h}.${p}.${s}.x`,
      `${h}.${p}.${s}.`,
      `${h}..${s}`,
      `.${p}.${s}`,
      `${h}.${p}.`,
      '..',
      '.',
      '',
      'x',
      `${h}.${p}.${s}.${s}.${s}`,
      'a.b.c.d.e',
    ];
    for (const token of bad) expect(await codeOf(baton.verify(token)), JSON.stringify(token)).toBe('ERR_TOKEN_INVALID');
  });

  it('a 1 MB token is refused by its length before any parsing or crypto', async () => {
    const { baton, header, claims } = setup();
    const huge = `${b64(header)}.${b64(claims({ pad: 'x'.repeat(1_000_000) }))}.${'A'.repeat(43)}`;
    const err = await baton.verify(huge).catch((e: unknown) => e as BatonError);
    expect(err).toMatchObject({ code: 'ERR_TOKEN_INVALID', detail: 'the token is too long' });
  });

  it('deeply nested JSON and non-object claims, correctly signed', async () => {
    const { baton, hs, header } = setup();
    for (const payload of [
      '['.repeat(5000) + ']'.repeat(5000),
      `{"a":${'['.repeat(2500)}${']'.repeat(2500)}}`,
      '[]',
      '"string"',
      '42',
      'null',
      '{"sub":',
      '\u0000',
    ]) {
      expect(await codeOf(baton.verify(hs(header, payload)))).toBe('ERR_TOKEN_INVALID');
    }
    expect(await codeOf(baton.verify(hs('{"alg":"HS256","typ":"at+jwt","kid":"hs","x":' + '['.repeat(3000) + ']'.repeat(3000) + '}')))).toBe(
      'ERR_TOKEN_INVALID',
    );
  });

  it('duplicate claim names: forged ones fail the signature; signed ones read the last value (RFC 7519 §4), as jose does', async () => {
    const { baton, hs, header, claims } = setup();
    const json = JSON.stringify(claims()).replace('"sub":"u"', '"sub":"admin","sub":"u"');
    const signed = hs(header, json);
    expect((await baton.verify(signed)).sub).toBe('u');
    const forged = `${signed.slice(0, signed.lastIndexOf('.'))}.${hmac(randomBytes(32), 'x')}`;
    expect(await codeOf(baton.verify(forged))).toBe('ERR_TOKEN_INVALID');
  });

  it('an ECDSA signature of zeros (CVE-2022-21449) and other ES256 special values', async () => {
    const { baton, claims } = setup();
    const input = `${b64({ alg: 'ES256', typ: 'at+jwt', kid: 'es' })}.${b64(claims())}`;
    const n = Buffer.from('ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551', 'hex');
    const one = Buffer.alloc(32);
    one[31] = 1;
    for (const [r, s] of [
      [Buffer.alloc(32), Buffer.alloc(32)],
      [Buffer.alloc(32), one],
      [n, n],
      [one, Buffer.alloc(32)],
      [n, one],
    ] as const) {
      expect(await codeOf(baton.verify(`${input}.${Buffer.concat([r, s]).toString('base64url')}`))).toBe('ERR_TOKEN_INVALID');
    }
    expect(await codeOf(baton.verify(`${input}.${Buffer.alloc(65).toString('base64url')}`))).toBe('ERR_TOKEN_INVALID');
  });

  it('a valid token whose session was revoked or evicted', async () => {
    const { baton } = setup();
    const a = await baton.login('u');
    await baton.revokeSession(a.session_id);
    expect(await codeOf(baton.verify(a.access_token))).toBe('ERR_SESSION_REVOKED');
    const single = makeBaton({ maxSessionsPerUser: 1 });
    const old = await single.baton.login('v');
    await single.baton.login('v');
    expect(await codeOf(single.baton.verify(old.access_token))).toBe('ERR_SESSION_REVOKED');
  });

  it('values that are not strings at all', async () => {
    const { baton } = setup();
    for (const value of [undefined, null, 42, {}, [], Symbol('t'), Buffer.from('abc'), () => 'x']) {
      const err = await baton.verify(value as never).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BatonError);
      expect((err as BatonError).code).toBe('ERR_TOKEN_INVALID');
    }
  });
});
