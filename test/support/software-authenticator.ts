/**
 * A software authenticator for in-process tests of `baton-auth/passkeys`: an ES256 key (node:crypto)
 * answering registration and sign-in options as a browser's `startRegistration`/`startAuthentication`
 * would (WebAuthn L3 §6.1 authenticator data, §6.5 "none" attestation, §6.3.3 assertion signature),
 * with the counter, flags, origin and RP ID a test chooses. The browser tests use Chromium's virtual
 * authenticator instead (test/e2e/passkeys.test.ts).
 */
import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { isoCBOR } from '@simplewebauthn/server/helpers';

const b64url = (b: Uint8Array | string): string => Buffer.from(b).toString('base64url');
const sha256 = (b: Uint8Array | string): Buffer => createHash('sha256').update(b).digest();

/** Flags of the authenticator data: user present, user verified (§6.1). */
const UP = 0x01;
const UV = 0x04;
const AT = 0x40;

export interface AnswerOptions {
  origin?: string;
  rpId?: string;
  /** The signature counter the authenticator reports (default: one more than the last). */
  counter?: number;
  /** Whether it says the user was verified (default true). */
  verified?: boolean;
  /** Members of `clientDataJSON` beside its own (`crossOrigin`, `topOrigin`: a page framed by another). */
  clientData?: Record<string, unknown>;
}

export function softwareAuthenticator(defaults: { origin: string; rpId: string }) {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = publicKey.export({ format: 'jwk' });
  const id = randomBytes(32);
  let counter = 0;
  let userHandle = '';
  const cose = isoCBOR.encode(
    new Map<number, number | Uint8Array>([
      [1, 2], // kty: EC2
      [3, -7], // alg: ES256
      [-1, 1], // crv: P-256
      [-2, Buffer.from(jwk.x as string, 'base64url')],
      [-3, Buffer.from(jwk.y as string, 'base64url')],
    ]),
  );
  const authData = (rpId: string, flags: number, count: number, attested?: Uint8Array): Buffer => {
    const n = Buffer.alloc(4);
    n.writeUInt32BE(count);
    return Buffer.concat([sha256(rpId), Buffer.from([flags]), n, ...(attested ? [attested] : [])]);
  };
  const clientData = (type: string, challenge: string, origin: string, extra: Record<string, unknown> = {}): Buffer =>
    Buffer.from(JSON.stringify({ type, challenge, origin, crossOrigin: false, ...extra }));
  return {
    id: b64url(id),
    /** `startRegistration`'s answer to `options`. */
    register(options: { challenge: string; user: { id: string } }, o: AnswerOptions = {}) {
      userHandle = options.user.id;
      const len = Buffer.alloc(2);
      len.writeUInt16BE(id.length);
      const attested = Buffer.concat([Buffer.alloc(16), len, id, cose]);
      const count = o.counter ?? counter;
      const data = authData(o.rpId ?? defaults.rpId, UP | (o.verified === false ? 0 : UV) | AT, count, attested);
      return {
        id: b64url(id),
        rawId: b64url(id),
        type: 'public-key',
        response: {
          clientDataJSON: b64url(clientData('webauthn.create', options.challenge, o.origin ?? defaults.origin, o.clientData)),
          attestationObject: b64url(
            isoCBOR.encode(
              new Map<string, unknown>([
                ['fmt', 'none'],
                ['attStmt', new Map()],
                ['authData', data],
              ]) as never,
            ),
          ),
          transports: ['internal'],
        },
        clientExtensionResults: {},
      };
    },
    /** `startAuthentication`'s answer to `options`. */
    signIn(options: { challenge: string }, o: AnswerOptions = {}) {
      counter = o.counter ?? counter + 1;
      const data = authData(o.rpId ?? defaults.rpId, UP | (o.verified === false ? 0 : UV), counter);
      const client = clientData('webauthn.get', options.challenge, o.origin ?? defaults.origin, o.clientData);
      const signature = sign('sha256', Buffer.concat([data, sha256(client)]), privateKey);
      return {
        id: b64url(id),
        rawId: b64url(id),
        type: 'public-key',
        response: { clientDataJSON: b64url(client), authenticatorData: b64url(data), signature: b64url(signature), userHandle },
        clientExtensionResults: {},
      };
    },
  };
}
