/**
 * The access token of `useAccessToken`: fetched from `{basePath}/token`, held in memory only
 * (never localStorage or sessionStorage), shared by the tabs of the origin and fetched by one of
 * them at a time through `browserStorage` — the SDK's own cross-tab coordination: a Web Lock
 * around read → fetch → write, a `BroadcastChannel` that hands the result to the other tabs, and
 * a tab that gets the lock right after another's fetch waiting for that result instead of
 * fetching again.
 */
import { browserStorage } from '../browser.ts';
import { NotSignedInError } from '../errors.ts';
import { refreshMargin } from '../tokens.ts';
import type { StoredTokens, TokenStorage } from '../types.ts';

/** A promise already settled, marked so that React's `use()` reads it without suspending. */
type Settled = Promise<string> & { status: 'fulfilled'; value: string };

function settled(token: string): Settled {
  return Object.assign(Promise.resolve(token), { status: 'fulfilled' as const, value: token });
}

/** How the source reaches the token route: the provider's one request at a time, and what a 401 means. */
export interface TokenRoute {
  /** Fetches the token once: tokens, or `unauthorized` for a 401. */
  fetch(): Promise<StoredTokens | 'unauthorized'>;
  /** After a 401: re-reads the session; resolves when it is still signed in, rejects with why it is not. */
  unauthorized(): Promise<void>;
  /** A renewal ended (with a token or not): the next one can be planned. */
  settled(): void;
}

/** A token is used only while it has this much life left (a request takes time to arrive). */
const USABLE_MS = 1000;

export class TokenSource {
  readonly #name: string;
  readonly #route: TokenRoute;
  readonly #changed: () => void;
  #storage: (TokenStorage & { close(): void }) | undefined;
  #unsubscribe: (() => void) | undefined;
  #tokens: StoredTokens | null = null;
  #pending: Promise<StoredTokens> | undefined;
  #settled: Settled | undefined;
  /** A token the route gave again when asked for a new one: renewed only at its end, not in its margin. */
  #repeated: string | undefined;

  constructor(name: string, route: TokenRoute, changed: () => void) {
    this.#name = name;
    this.#route = route;
    this.#changed = changed;
  }

  /** Joins the other tabs (a `BroadcastChannel`); this tab's token, if it holds one, is offered to them. Idempotent. */
  open(): void {
    if (this.#storage !== undefined || typeof BroadcastChannel === 'undefined') return;
    const storage = browserStorage({ name: this.#name });
    this.#storage = storage;
    this.#unsubscribe = storage.subscribe?.((tokens) => this.#take(tokens));
    if (this.#tokens !== null) void storage.set(this.#tokens);
  }

  /** Leaves the other tabs; a fetch under way still lands here. */
  close(): void {
    this.#unsubscribe?.();
    this.#storage?.close();
    this.#storage = this.#unsubscribe = undefined;
  }

  /** The token held now, or null. */
  get token(): string | null {
    return this.#tokens?.accessToken ?? null;
  }

  /** Whether a fetch of the token is under way (or waiting for the tabs' lock). */
  get renewing(): boolean {
    return this.#pending !== undefined;
  }

  /** When the held token should be renewed (ms, this machine's clock), or undefined when none is held. */
  renewAt(): number | undefined {
    return this.#renewAtOf(this.#tokens);
  }

  /**
   * The token: the one held while it has a second of life left (the same promise each time, which
   * `use()` can take), else one fetch — shared by every caller of this tab and, across tabs, by
   * the one tab that holds the lock.
   */
  getToken(): Promise<string> {
    const t = this.#tokens;
    if (t !== null && Date.now() < t.expiresAt - USABLE_MS) {
      if (this.#settled?.value !== t.accessToken) this.#settled = settled(t.accessToken);
      return this.#settled;
    }
    return this.renew().then((tokens) => tokens.accessToken);
  }

  /** A new token unless one fresh enough arrived meanwhile (from this tab or another); one at a time. */
  renew(): Promise<StoredTokens> {
    this.#pending ??= this.#locked().finally(() => {
      this.#pending = undefined;
      this.#route.settled();
    });
    return this.#pending;
  }

  /** Forgets `token` here and in the other tabs if it is the one held (an API refused it). */
  drop(token: string): void {
    if (this.#tokens?.accessToken === token) this.clear();
  }

  /** Forgets the token here and in the other tabs (the session ended). */
  clear(): void {
    if (this.#tokens === null) return;
    this.#take(null);
    void this.#storage?.clear();
  }

  #locked(): Promise<StoredTokens> {
    const storage = this.#storage;
    const run = async (): Promise<StoredTokens> => {
      const current = (await storage?.get()) ?? this.#tokens; // after the lock's wait for another tab's broadcast
      const due = this.#renewAtOf(current);
      if (current !== null && due !== undefined && Date.now() < due) return this.#take(current);
      const tokens = await this.#fetch();
      this.#repeated = tokens.accessToken === current?.accessToken ? tokens.accessToken : undefined;
      this.#take(tokens);
      await this.#storage?.set(tokens);
      return tokens;
    };
    return storage?.withLock ? storage.withLock(run) : run();
  }

  #renewAtOf(tokens: StoredTokens | null): number | undefined {
    if (tokens === null) return undefined;
    return tokens.accessToken === this.#repeated ? tokens.expiresAt - USABLE_MS : tokens.expiresAt - refreshMargin(tokens, {});
  }

  /** One fetch; after a 401, the session is read again and, if it is still signed in, the token asked for once more. */
  async #fetch(): Promise<StoredTokens> {
    let answer = await this.#route.fetch();
    if (answer !== 'unauthorized') return answer;
    await this.#route.unauthorized();
    answer = await this.#route.fetch();
    if (answer === 'unauthorized') throw new NotSignedInError('The token route refused the session the session route accepted; try again.');
    return answer;
  }

  #take(tokens: StoredTokens | null): StoredTokens {
    const changed = tokens?.accessToken !== this.#tokens?.accessToken;
    this.#tokens = tokens;
    if (changed) this.#changed();
    return tokens as StoredTokens;
  }
}
