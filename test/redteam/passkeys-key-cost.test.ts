/**
 * Red team (passkeys, cost): a registration kept any public key of the algorithms
 * @simplewebauthn/server knows, an RSA key with any exponent and modulus included, and verified any
 * attestation statement it carried. An RSA key with a 3,064-bit exponent on a 3,072-bit modulus
 * costs 17 ms a signature check (an ordinary RS256 key 0.3 ms; one of 16,384 bits with a 64-bit
 * exponent 9 ms): an ordinary account registers one (attestation "none": no signature is needed
 * to keep it), then posts sign-ins with right signatures — never counted as failures, and checked
 * before the per-user login budget refuses the session — about 60 a second to take a whole core of
 * an instance, from one address. A "packed" statement's certificate could carry such a key too.
 * Fixed: the key must be EdDSA, ES256 on P-256 or RS256 with e = 65537 and a 2048–4096-bit modulus
 * (a DPoP proof's bounds), checked before anything is verified; the attestation statement is dropped
 * unread (the options ask for none, and nothing here uses one).
 */
import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isoCBOR } from '@simplewebauthn/server/helpers';
import { codeOf } from '../support/baton.ts';
import { passkeysHarness, ORIGIN, RP_ID } from './passkeys-harness.ts';

const sha256 = (b: Uint8Array | string): Buffer => createHash('sha256').update(b).digest();

/** A registration answer of `id` whose authenticator data holds `cose`, with attestation `fmt`/`attStmt`. */
function registration(options: { challenge: string }, id: Buffer, cose: Uint8Array, fmt = 'none', attStmt = new Map<string, unknown>()) {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(id.length);
  const authData = Buffer.concat([sha256(RP_ID), Buffer.from([0x45]), Buffer.alloc(4), Buffer.alloc(16), len, id, cose]);
  const clientDataJSON = Buffer.from(JSON.stringify({ type: 'webauthn.create', challenge: options.challenge, origin: ORIGIN, crossOrigin: false }));
  return {
    id: id.toString('base64url'),
    rawId: id.toString('base64url'),
    type: 'public-key',
    response: {
      clientDataJSON: clientDataJSON.toString('base64url'),
      attestationObject: Buffer.from(
        isoCBOR.encode(
          new Map<string, unknown>([
            ['fmt', fmt],
            ['attStmt', attStmt],
            ['authData', authData],
          ]) as never,
        ),
      ).toString('base64url'),
      transports: ['usb'],
    },
    clientExtensionResults: {},
  };
}

/** An RSA COSE key (kty 3, alg RS256) of `n` and `e`. */
const rsaCose = (n: Buffer, e: Buffer): Uint8Array =>
  isoCBOR.encode(
    new Map<number, number | Uint8Array>([
      [1, 3],
      [3, -257],
      [-1, n],
      [-2, e],
    ]),
  );

/** A sign-in answer of `id` for `userId`, signed RS256 by `key`. */
function rsaSignIn(options: { challenge: string }, id: Buffer, userId: string, key: KeyObject, counter: number) {
  const n = Buffer.alloc(4);
  n.writeUInt32BE(counter);
  const data = Buffer.concat([sha256(RP_ID), Buffer.from([0x05]), n]);
  const client = Buffer.from(JSON.stringify({ type: 'webauthn.get', challenge: options.challenge, origin: ORIGIN, crossOrigin: false }));
  return {
    id: id.toString('base64url'),
    rawId: id.toString('base64url'),
    type: 'public-key',
    response: {
      clientDataJSON: client.toString('base64url'),
      authenticatorData: data.toString('base64url'),
      signature: sign('sha256', Buffer.concat([data, sha256(client)]), key).toString('base64url'),
      userHandle: Buffer.from(userId).toString('base64url'),
    },
    clientExtensionResults: {},
  };
}

const odd = (bytes: number): Buffer => {
  const b = randomBytes(bytes);
  b[0] = (b[0] as number) | 0x80;
  b[bytes - 1] = (b[bytes - 1] as number) | 1;
  return b;
};

describe('red team: what a passkey’s key may cost', () => {
  it.each([
    ['a 3,064-bit exponent', odd(384), odd(383)],
    ['a 16,384-bit modulus', odd(2048), Buffer.from([1, 0, 1])],
    ['a 1,024-bit modulus', odd(128), Buffer.from([1, 0, 1])],
    ['the exponent 3', odd(256), Buffer.from([3])],
  ])('an RSA key with %s is refused at registration, nothing kept', async (_label, n, e) => {
    const t = passkeysHarness();
    const { options, state } = await t.passkeys.registrationOptions({ id: 'usr_mallory', name: 'mallory' }, 'sid-1');
    const answer = registration(options, randomBytes(32), rsaCose(n, e));
    expect(await codeOf(t.passkeys.register({ id: 'usr_mallory' }, answer, state, { bind: 'sid-1' }))).toBe('ERR_PASSKEY_REFUSED');
    expect(await t.passkeys.list('usr_mallory')).toEqual([]);
  });

  it('an RS256 key of 2,048 bits and e = 65537 registers and signs in', async () => {
    const t = passkeysHarness();
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwk = publicKey.export({ format: 'jwk' });
    const id = randomBytes(32);
    const { options, state } = await t.passkeys.registrationOptions({ id: 'usr_alice', name: 'alice' }, 'sid-1');
    const answer = registration(options, id, rsaCose(Buffer.from(jwk.n as string, 'base64url'), Buffer.from(jwk.e as string, 'base64url')));
    await t.passkeys.register({ id: 'usr_alice' }, answer, state, { bind: 'sid-1' });
    const signIn = await t.passkeys.signInOptions();
    expect((await t.passkeys.signIn(rsaSignIn(signIn.options, id, 'usr_alice', privateKey, 1), signIn.state)).userId).toBe('usr_alice');
  });

  it('an attestation statement is dropped unread: no certificate or signature in it is checked', async () => {
    const t = passkeysHarness();
    const key = t.authenticator();
    const { options, state } = await t.passkeys.registrationOptions({ id: 'usr_alice', name: 'alice' }, 'sid-1');
    const honest = key.register(options);
    const att = isoCBOR.decodeFirst<Map<string, unknown>>(Buffer.from(honest.response.attestationObject, 'base64url'));
    // A "packed" statement whose certificate (junk here) would have been parsed and its key used.
    const packed = new Map<string, unknown>([
      ['alg', -257],
      ['sig', randomBytes(512)],
      ['x5c', [randomBytes(2000)]],
    ]);
    const answer = {
      ...honest,
      response: {
        ...honest.response,
        attestationObject: Buffer.from(
          isoCBOR.encode(
            new Map<string, unknown>([
              ['fmt', 'packed'],
              ['attStmt', packed],
              ['authData', att.get('authData')],
            ]) as never,
          ),
        ).toString('base64url'),
      },
    };
    expect((await t.passkeys.register({ id: 'usr_alice' }, answer, state, { bind: 'sid-1' })).id).toBe(key.id);
    expect((await t.signIn(key)).userId).toBe('usr_alice');
  });
});
