/**
 * The session a client holds in its storage: its tokens read and kept valid, refreshed one at a
 * time — one refresh in flight per storage on this page or in this process, under the storage's
 * lock across tabs or processes — and its end, told once: `sessionEnded` with the server's reason,
 * or `signed_out_elsewhere` when another tab or process cleared the tokens.
 */
import type { Endpoints } from './discovery.ts';
import type { DpopKeeper } from './dpop-keeper.ts';
import { BatonClientError, isSignedOut, NotSignedInError, SessionEndedError } from './errors.ts';
import type { Emitter } from './events.ts';
import { refreshGrant } from './refresher.ts';
import { refreshMargin, tokensFrom } from './tokens.ts';
import type { SessionEnd, StoredTokens, TokenClientOptions, TokenStorage } from './types.ts';

/** A refresh's outcome, shared by every client of one storage on this page or in this process. */
interface Refreshed {
  tokens: StoredTokens;
  /** False when another tab or process had refreshed already. */
  fresh: boolean;
  serverDate: number | undefined;
}

/**
 * Refreshes in flight, by storage — its `id` with the server and client id, else the storage
 * object itself: a second client on the same page (React Strict Mode mounts twice) joins the
 * first's refresh instead of racing it.
 */
const inflight = new Map<unknown, Promise<Refreshed>>();

/** What the session needs of its client. */
export interface SessionParts {
  options: TokenClientOptions;
  storage: TokenStorage;
  /** Whom this session's refreshes are shared with (see `inflight`). */
  sharingKey: unknown;
  fetch: typeof fetch;
  now: () => number;
  endpoints: () => Promise<Endpoints>;
  dpop: DpopKeeper;
  events: Emitter;
  /** Sets the background timer for `tokens` (when the client runs one), or clears it. */
  schedule: (tokens: StoredTokens | null) => void;
}

/** The session of one client; see the file's comment. */
export class ClientSession {
  readonly #p: SessionParts;
  /**
   * Whether this client saw a session in its storage that it has not ended itself: tokens gone
   * from a storage that tells no one (a token file shared by processes) then mean another tab or
   * process signed out, and the first call that finds them gone says so once.
   */
  #held = false;

  constructor(parts: SessionParts) {
    this.#p = parts;
  }

  /** Keeps new tokens (after a sign-in), persisted before anyone uses them. */
  async set(tokens: StoredTokens): Promise<void> {
    await this.#p.storage.set(tokens);
    this.#held = true;
    this.#p.schedule(tokens);
  }

  /** Forgets the session here (a logout): no event, nothing to tell. */
  forget(): void {
    this.#held = false;
    this.#p.schedule(null);
  }

  /** Another tab or process cleared the tokens: this one is signed out too. */
  endedElsewhere(): void {
    this.forget();
    this.#p.events.emit('sessionEnded', { reason: 'signed_out_elsewhere' });
  }

  needsRefresh(tokens: StoredTokens): boolean {
    return tokens.expiresAt - this.#p.now() <= refreshMargin(tokens, this.#p.options);
  }

  /**
   * The storage has no tokens: `signed_out_elsewhere` (once) when this client held a session, else
   * not signed in. `emit`: say so here (a refresh's failure is told by `refresh` itself).
   */
  #none(emit: boolean): NotSignedInError | SessionEndedError {
    if (!this.#held) return new NotSignedInError();
    this.forget();
    const end: SessionEnd = { reason: 'signed_out_elsewhere' };
    if (emit) this.#p.events.emit('sessionEnded', end);
    return new SessionEndedError('Signed out in another tab or process', end);
  }

  /** Valid tokens, refreshed first near expiry; the current ones while they work if a refresh failed without ending anything. */
  async valid(): Promise<StoredTokens> {
    const tokens = await this.#p.storage.get();
    if (tokens === null) throw this.#none(true);
    this.#held = true;
    if (!this.needsRefresh(tokens)) return tokens;
    try {
      return await this.refresh(tokens.accessToken);
    } catch (err) {
      if (err instanceof BatonClientError && !isSignedOut(err) && tokens.expiresAt > this.#p.now()) return tokens;
      throw err;
    }
  }

  /** Refreshes, sharing a refresh in flight; see `TokenClient.refresh`. */
  refresh(seenAccessToken?: string): Promise<StoredTokens> {
    const { sharingKey: key, storage, events } = this.#p;
    let shared = inflight.get(key);
    if (shared === undefined) {
      const run = () => this.#refreshLocked(seenAccessToken);
      shared = (storage.withLock ? storage.withLock(run) : run()).finally(() => inflight.delete(key));
      inflight.set(key, shared);
    }
    return shared.then(
      (r) => this.#refreshed(r),
      (err: unknown) => {
        if (isSignedOut(err)) {
          this.forget();
          if (err instanceof SessionEndedError) events.emit('sessionEnded', err.sessionEnd);
        } else events.emit('error', err as Error);
        throw err;
      },
    );
  }

  #refreshed({ tokens, fresh, serverDate }: Refreshed): StoredTokens {
    this.#p.schedule(tokens);
    if (!fresh) return tokens;
    if (serverDate !== undefined) this.#p.dpop.noteServerDate(serverDate, tokens.receivedAt);
    this.#p.events.emit('refreshed', tokens);
    return tokens;
  }

  async #refreshLocked(seenAccessToken: string | undefined): Promise<Refreshed> {
    const { options: o, storage } = this.#p;
    const stored = await storage.get();
    // In cookie mode a page that has no tokens yet (a reload) may still hold the refresh cookie.
    if (stored === null && o.mode !== 'cookie') throw this.#none(false);
    const current: StoredTokens = stored ?? { accessToken: '', receivedAt: 0, expiresAt: 0 };
    if (seenAccessToken !== undefined && current.accessToken !== seenAccessToken && !this.needsRefresh(current)) {
      return { tokens: current, fresh: false, serverDate: undefined }; // another tab or process refreshed while we waited for the lock
    }
    const { token } = await this.#p.endpoints();
    const dpop = await this.#p.dpop.forTokenRequests(current.tokenType === 'DPoP');
    const result = await refreshGrant({
      endpoint: token,
      refreshToken: current.refreshToken,
      clientId: o.clientId,
      clientSecret: o.clientAuthentication?.secret,
      cookie: o.mode === 'cookie',
      retry: o.retry,
      fetch: this.#p.fetch,
      now: this.#p.now,
      dpop,
    });
    if (result.ok) {
      const tokens = tokensFrom(result.response, result.receivedAt, current, o.mode, dpop !== undefined);
      await storage.set(tokens); // persisted before anyone uses it
      this.#held = true;
      return { tokens, fresh: true, serverDate: result.serverDate };
    }
    // invalid_grant: maybe another tab or process rotated meanwhile.
    const again = await storage.get();
    if (again !== null && again.refreshToken !== current.refreshToken && again.accessToken !== current.accessToken)
      return { tokens: again, fresh: false, serverDate: undefined };
    await storage.clear();
    this.#held = false;
    throw new SessionEndedError(`The session ended (${result.end.reason})`, result.end);
  }
}
