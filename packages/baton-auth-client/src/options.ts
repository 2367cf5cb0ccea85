/**
 * `createTokenClient`'s options, checked when the client is made: a missing, mistyped or
 * out-of-range option fails at once with `ERR_CONFIG` and a sentence that names it, rather than as
 * a `TypeError` deep in the first refresh. Written by hand rather than with a schema library: the
 * client is bundled into web pages, and these are a dozen `typeof` checks.
 */
import { isDpopKeyPair } from './dpop.ts';
import { configError, shown } from './errors.ts';
import { requireSecure } from './origins.ts';
import type { TokenClientOptions } from './types.ts';

type Options = Record<string, unknown>;

const has = (o: Options, name: string): boolean => o[name] !== undefined && o[name] !== null;
const isObject = (v: unknown): v is Options => typeof v === 'object' && v !== null;

/** Throws `ERR_CONFIG` unless each named option is absent or of `type`. */
function ofType(o: Options, type: 'string' | 'function' | 'boolean', names: readonly string[]): void {
  for (const name of names)
    if (has(o, name) && typeof o[name] !== type) throw configError(`createTokenClient: \`${name}\` must be a ${type}; it is ${typeof o[name]}.`);
}

/** Throws `ERR_CONFIG` unless each named member of `o` is absent or a finite number of at least `min` (a whole one when `whole`). */
function numbers(o: Options, where: string, names: readonly string[], min: number, whole = false): void {
  for (const name of names) {
    const v = o[name];
    if (!has(o, name)) continue;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || (whole && !Number.isInteger(v))) {
      throw configError(`createTokenClient: \`${where}${name}\` must be a ${whole ? 'whole number' : 'number'} of at least ${min}; it is ${shown(v)}.`);
    }
  }
}

/** The `hooks`, `retry` and `allowedOrigins` shapes. */
function checkShapes(o: Options): void {
  const origins = o.allowedOrigins;
  if (has(o, 'allowedOrigins') && typeof origins !== 'function' && !(Array.isArray(origins) && origins.every((x) => typeof x === 'string'))) {
    throw configError("createTokenClient: `allowedOrigins` must be an array of origins (`['https://api.example.com']`) or a function of an origin.");
  }
  if (has(o, 'retry')) {
    if (!isObject(o.retry)) throw configError('createTokenClient: `retry` must be an object: `{ attempts, baseMs, maxMs, maxRetryAfterMs }`.');
    numbers(o.retry, 'retry.', ['attempts'], 1, true);
    numbers(o.retry, 'retry.', ['baseMs', 'maxMs', 'maxRetryAfterMs'], 0);
  }
  if (has(o, 'hooks')) {
    const hooks = o.hooks;
    const fns = (v: unknown) => v === undefined || (Array.isArray(v) && v.every((f) => typeof f === 'function'));
    if (!isObject(hooks) || !fns(hooks.beforeRequest) || !fns(hooks.afterResponse))
      throw configError('createTokenClient: `hooks` must be `{ beforeRequest?: [functions], afterResponse?: [functions] }`.');
  }
  if (has(o, 'storage')) {
    const s = o.storage;
    if (!isObject(s) || typeof s.get !== 'function' || typeof s.set !== 'function' || typeof s.clear !== 'function') {
      throw configError(
        'createTokenClient: `storage` must be a TokenStorage (`get`, `set`, `clear`): memoryStorage(), browserStorage(), fileStorage(path), or your own.',
      );
    }
  }
}

/** The `dpop` option, and what it needs of the storage. */
function checkDpop(o: Options): void {
  const dpop = o.dpop;
  if (!has(o, 'dpop') || typeof dpop === 'boolean') {
    if (dpop === true && has(o, 'storage') && (o.storage as Options).dpopKey === undefined) {
      throw configError(
        '`dpop: true` needs a storage that keeps a DPoP key (memoryStorage, browserStorage, fileStorage), or the key pair itself: `dpop: { keyPair }`.',
      );
    }
    return;
  }
  if (!isObject(dpop) || !isDpopKeyPair(dpop.keyPair)) {
    throw configError(
      "`dpop` must be a boolean or `{ keyPair }`, and `dpop.keyPair` an ECDSA P-256 CryptoKeyPair (crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify'])).",
    );
  }
}

/**
 * Checks `options` and returns them with the endpoints resolved once, here (a web page's relative
 * endpoint, against the document's base URL). An endpoint or issuer that is not https (or http on
 * loopback, RFC 8414 §2) is `ERR_DISCOVERY`, as the same endpoint found by discovery would be.
 */
export function checkOptions(given: unknown): TokenClientOptions {
  if (!isObject(given)) throw configError('createTokenClient needs an options object: `{ issuer }` or `{ endpoints: { token } }`.');
  // A `null` option is an absent one, as `undefined` is.
  const options = Object.fromEntries(Object.entries(given).filter(([, v]) => v !== null));
  ofType(options, 'string', ['issuer', 'clientId']);
  ofType(options, 'function', ['fetch', 'now', 'monotonic']);
  ofType(options, 'boolean', ['background']);
  numbers(options, '', ['refreshMargin', 'jitter'], 0);
  if (has(options, 'mode') && options.mode !== 'tokens' && options.mode !== 'cookie')
    throw configError(`createTokenClient: \`mode\` is 'tokens' or 'cookie'; it is ${JSON.stringify(options.mode)}.`);
  checkShapes(options);
  checkDpop(options);
  const auth = options.clientAuthentication;
  if (has(options, 'clientAuthentication') && (!isObject(auth) || typeof auth.secret !== 'string'))
    throw configError('createTokenClient: `clientAuthentication` must be `{ secret }`, the client secret as a string.');
  if (has(options, 'clientAuthentication') && !has(options, 'clientId')) throw configError('`clientAuthentication` needs the `clientId` it authenticates.');
  if (!has(options, 'endpoints')) {
    if (!has(options, 'issuer') || options.issuer === '')
      throw configError('createTokenClient needs `issuer` (for RFC 8414 discovery) or `endpoints: { token }`.');
    return options as TokenClientOptions;
  }
  const endpoints = options.endpoints;
  if (!isObject(endpoints) || typeof endpoints.token !== 'string' || (endpoints.revocation !== undefined && typeof endpoints.revocation !== 'string')) {
    throw configError('createTokenClient: `endpoints` must be `{ token, revocation? }`, each a URL string.');
  }
  const token = requireSecure(endpoints.token, 'token endpoint').href;
  const revocation = endpoints.revocation === undefined ? undefined : requireSecure(endpoints.revocation, 'revocation endpoint').href;
  return { ...options, endpoints: { token, ...(revocation === undefined ? {} : { revocation }) } } as TokenClientOptions;
}
