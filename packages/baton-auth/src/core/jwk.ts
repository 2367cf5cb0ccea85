/**
 * What a JWK given as key material may say about its purpose (RFC 7517 §4.2–4.4), checked when a
 * key is imported.
 */
import { KeyObject } from 'node:crypto';
import type { JsonWebKey as NodeJwk } from 'node:crypto';
import { BatonConfigError } from './errors.ts';

/** A JWK with the members that say what the key is for (RFC 7517 §4). */
export interface Jwk extends NodeJwk {
  kid?: string;
  use?: string;
  key_ops?: string[];
  alg?: string;
}

/**
 * Refuses a JWK given as key material that says it is meant for something else: `use` other than
 * `sig` (RFC 7517 §4.2), `key_ops` without the operation it is given for (§4.3), or an `alg` other
 * than the key's pinned one (§4.4; `Ed25519` is EdDSA's fully-specified name, RFC 9864).
 */
export function checkJwkMembers(value: NodeJwk | string | KeyObject | undefined, op: 'sign' | 'verify', alg: string, where: string): void {
  if (value === undefined || typeof value === 'string' || value instanceof KeyObject) return;
  const jwk = value as Jwk;
  if (jwk.use !== undefined && jwk.use !== 'sig')
    throw new BatonConfigError(`${where}: its JWK is for use ${JSON.stringify(jwk.use)}, not signatures (RFC 7517 §4.2).`);
  if (jwk.key_ops !== undefined && !jwk.key_ops.includes(op)) throw new BatonConfigError(`${where}: its JWK's key_ops do not allow "${op}" (RFC 7517 §4.3).`);
  if (jwk.alg !== undefined && jwk.alg !== alg && !(alg === 'EdDSA' && jwk.alg === 'Ed25519')) {
    throw new BatonConfigError(`${where}: its JWK is for ${jwk.alg}, not ${alg} (RFC 7517 §4.4).`);
  }
}
