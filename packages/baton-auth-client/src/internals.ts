/**
 * What the code-flow functions (`signInWithRedirect`, `completeSignIn`, `signInWithBrowser`) use of
 * a client they are given: its options, fetch and clock, its endpoints, its DPoP keeper and its
 * token storage. Kept in a module-private WeakMap rather than on the client's public face, so that
 * these functions stay outside the class — an app that never signs in with a code pays no bytes
 * for them (`sideEffects: false`) — and nothing else can reach the client's key.
 */
import type { Endpoints } from './discovery.ts';
import type { DpopKeeper } from './dpop-keeper.ts';
import { configError } from './errors.ts';
import type { StoredTokens, TokenClientOptions, TokenResponse } from './types.ts';

/** A client's parts, as the code flow uses them. */
export interface ClientParts {
  options: TokenClientOptions;
  fetch: typeof fetch;
  now: () => number;
  endpoints: () => Promise<Endpoints>;
  dpop: DpopKeeper;
  setTokens(response: TokenResponse, receivedAt: number): Promise<StoredTokens>;
}

const parts = new WeakMap<object, ClientParts>();

/** Called once by the client's constructor. */
export function linkParts(client: object, p: ClientParts): void {
  parts.set(client, p);
}

/** The parts of `client`, or `ERR_CONFIG` naming `fn` when it is not a client `createTokenClient` made. */
export function partsOf(client: unknown, fn: string): ClientParts {
  const p = typeof client === 'object' && client !== null ? parts.get(client) : undefined;
  if (p === undefined) throw configError(`${fn} takes the client \`createTokenClient\` made as its first argument.`);
  return p;
}
