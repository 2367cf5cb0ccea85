/**
 * The key ring of `createBaton`'s options: `keys` (a list or a ready `KeyRing`) with
 * `refreshTokenSecret` and the previous ones as its refresh keys.
 */
import { BatonConfigError } from './errors.ts';
import { KeyRing } from './keys.ts';
import type { KeyInput } from './keys.ts';

/** The options of `createBaton` the key ring is made of (see `BatonOptions`). */
export interface KeyOptions {
  keys: readonly KeyInput[] | KeyRing;
  refreshTokenSecret?: string | Uint8Array | undefined;
  previousRefreshTokenSecrets?: readonly (string | Uint8Array)[] | undefined;
}

function secret(value: unknown, name: string): Uint8Array {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value instanceof Uint8Array ? value : undefined;
  if (bytes === undefined) throw new BatonConfigError(`${name} is required: a secret of at least 32 bytes (generate one with \`openssl rand -base64 32\`).`);
  if (bytes.length < 32)
    throw new BatonConfigError(`${name} must be at least 32 bytes long; this one has ${bytes.length}. Generate one with \`openssl rand -base64 32\`.`);
  return bytes;
}

/** `value` if it is an array, else a BatonConfigError naming `setting`. */
function list<T>(value: readonly T[], setting: string): readonly T[] {
  if (!Array.isArray(value)) throw new BatonConfigError(`${setting} must be a list.`);
  return value;
}

/**
 * The key ring of `options`, with `refreshTokenSecret` (and the previous ones) as its refresh keys.
 * Exactly one source of refresh keys: the secret options or `refresh` keys in `keys`.
 */
export function keyRing(options: KeyOptions): KeyRing {
  const given = options.refreshTokenSecret;
  const refreshKeys: KeyInput[] =
    given === undefined
      ? []
      : [
          { kid: 'refresh-0', alg: 'HS256', use: 'refresh', status: 'active', secret: secret(given, '`refreshTokenSecret`') },
          ...list(options.previousRefreshTokenSecrets ?? [], '`previousRefreshTokenSecrets`').map((s, i): KeyInput => ({
            kid: `refresh-${i + 1}`,
            alg: 'HS256',
            use: 'refresh',
            status: 'retired',
            secret: secret(s, `\`previousRefreshTokenSecrets[${i}]\``),
          })),
        ];
  let ring: KeyRing;
  if (options.keys instanceof KeyRing) {
    ring = options.keys;
    if (refreshKeys.length > 0 && ring.list().some((k) => k.use === 'refresh')) {
      throw new BatonConfigError('`keys` already holds refresh-token keys: leave out `refreshTokenSecret` (or take the refresh keys out of the ring).');
    }
    for (const input of refreshKeys) {
      const key = ring.add(input, 'retired');
      if (input.status === 'active') ring.promote(key.kid, 0);
    }
  } else {
    if (!Array.isArray(options.keys) || options.keys.length === 0)
      throw new BatonConfigError("`keys` must list at least one key, e.g. `keys: [generateKey('HS256')]`.");
    if (refreshKeys.length > 0 && options.keys.some((k) => k.use === 'refresh')) {
      throw new BatonConfigError('`keys` already holds refresh-token keys: leave out `refreshTokenSecret`, or the refresh keys.');
    }
    ring = new KeyRing([...options.keys, ...refreshKeys]);
  }
  if (ring.active('refresh') === undefined) {
    throw new BatonConfigError(
      "`refreshTokenSecret` is required: a secret of at least 32 bytes (generate one with `openssl rand -base64 32`), or an active key with `use: 'refresh'` in `keys`.",
    );
  }
  return ring;
}
