/**
 * Apple's client secret: not a fixed string but a JWT the app signs with its key from Apple
 * (ES256, the `.p8` file), valid at most 6 months ("Creating a client secret", Sign in with Apple
 * REST API). Made here with jose; give it to `upstreamProvider({ preset: 'apple', clientSecret })`
 * or write it to the file of `baton providers add apple --client-secret-file`, and make a new one
 * before it expires.
 */
import { importPKCS8, SignJWT } from 'jose';
import { BatonConfigError } from '../core/errors.ts';

/** Options of `appleClientSecret`. */
export interface AppleClientSecretOptions {
  /** Your Apple Developer team id (10 characters): the JWT's `iss`. */
  teamId: string;
  /** The id of the key (10 characters): the JWT's `kid`. */
  keyId: string;
  /** The Services ID the sign-in is for (`com.example.web`): the JWT's `sub` and the provider's client id. */
  clientId: string;
  /** The private key Apple gave you, as the PEM text of its `.p8` file (PKCS #8, P-256). */
  privateKey: string;
  /** How long it is valid, in seconds: at most 15,777,000 (6 months), Apple's limit. Default 180 days. */
  expiresInSec?: number;
  /** Now, in ms (tests). */
  now?: number;
}

const MAX_SEC = 15_777_000;
const ID = /^[A-Z0-9]{10}$/;

/** The client secret JWT Apple's token endpoint takes (ES256; `iss` team, `sub` client, `aud` https://appleid.apple.com). */
export async function appleClientSecret(o: AppleClientSecretOptions): Promise<string> {
  if (!ID.test(o.teamId)) throw new BatonConfigError('appleClientSecret: teamId is your 10-character Apple Developer team id.');
  if (!ID.test(o.keyId)) throw new BatonConfigError('appleClientSecret: keyId is the 10-character id of your Sign in with Apple key.');
  const ttl = o.expiresInSec ?? 180 * 86_400;
  if (!Number.isSafeInteger(ttl) || ttl < 60 || ttl > MAX_SEC)
    throw new BatonConfigError(`appleClientSecret: expiresInSec is from 60 to ${MAX_SEC} (6 months, Apple's limit).`);
  let key: CryptoKey;
  try {
    key = await importPKCS8(o.privateKey, 'ES256');
  } catch {
    throw new BatonConfigError('appleClientSecret: privateKey must be the PEM text of the .p8 file Apple gave you (a PKCS #8 P-256 key).');
  }
  const iat = Math.floor((o.now ?? Date.now()) / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: 'ES256', kid: o.keyId })
    .setIssuer(o.teamId)
    .setSubject(o.clientId)
    .setAudience('https://appleid.apple.com')
    .setIssuedAt(iat)
    .setExpirationTime(iat + ttl)
    .sign(key);
}
