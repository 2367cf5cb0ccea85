/**
 * The default storage: tokens in memory, for one page or process.
 */
import type { StoredTokens, TokenStorage } from './types.ts';

/** Tokens in memory, for one page or process. */
export function memoryStorage(initial: StoredTokens | null = null): TokenStorage {
  let tokens = initial;
  return {
    get: async () => tokens,
    set: async (t) => void (tokens = t),
    clear: async () => void (tokens = null),
  };
}
