/**
 * The default storage: tokens in memory, for one page or process, and a DPoP key beside them in
 * memory too (non-extractable: this process can sign with it, nothing can read it).
 */
import { generateDpopKeyPair } from './dpop.ts';
import type { StoredTokens, TokenStorage } from './types.ts';

/** Tokens in memory, for one page or process. */
export function memoryStorage(initial: StoredTokens | null = null): TokenStorage {
  let tokens = initial;
  const keys = new Map<string, Promise<CryptoKeyPair>>();
  return {
    get: async () => tokens,
    set: async (t) => void (tokens = t),
    clear: async () => void (tokens = null),
    dpopKey(scope) {
      let key = keys.get(scope);
      if (key === undefined) keys.set(scope, (key = generateDpopKeyPair()));
      return key;
    },
  };
}
