/**
 * The state behind `BatonSessionProvider`, outside React (an external store for
 * `useSyncExternalStore`): the session as the server rendered it until something newer is read,
 * the access token source, one timer and one request at a time. Nothing happens when it is made —
 * React may make it twice and keep one (Strict Mode) — only between `start()` and `stop()`, which
 * add and remove exactly what they own: the timer, three event listeners, the tabs' channel.
 */
import { parseSessionSnapshot } from 'baton-auth/protocol';
import type { SessionSnapshot } from 'baton-auth/protocol';
import { BatonClientError, TransientRefreshError } from '../errors.ts';
import { TokenSource } from './token-source.ts';
import type { KnownSnapshot } from './wire.ts';
import { boundedText, OneAtATime, parseJson, readSnapshot, readToken, request, signedOutError, SIGNED_OUT_HERE } from './wire.ts';

/** What `useSession()` returns. */
export interface SessionValue {
  /** `loading` only when the provider got no snapshot from the server and the first read has not answered. */
  status: 'signed-in' | 'signed-out' | 'loading';
  user: { sub: string; name?: string } | null;
  /** Why the session ended (`logout`, `revoked`, `reuse_detected`, `idle_timeout`, …), or null when never signed in here. */
  reason: string | null;
  /** The server's sentence for the signed-out state, to show as it is. */
  description: string | null;
  /** Reads `{basePath}/session` again; rejects (`ERR_REFRESH_UNAVAILABLE`) when it cannot be read, keeping the state. */
  refresh(): Promise<void>;
  /** POSTs `{basePath}/signout` (same-origin credentials); the state becomes signed out, here and, at their next read, in the other tabs. */
  signOut(): Promise<void>;
}

/** The longest single timer: a tab the browser froze, or a machine that slept, catches up at most this late. */
const STEP_MS = 15_000;
/** The least time between two reads of the session that nothing but the page's coming back asked for. */
const MIN_GAP_MS = 1000;
/** A `Date` header is whole seconds and a request takes time: clocks closer than this are taken as one. */
const CLOCK_SLACK_MS = 5000;

function valueOf(s: KnownSnapshot | undefined, actions: Pick<SessionValue, 'refresh' | 'signOut'>): SessionValue {
  const { refresh, signOut } = actions;
  if (s === undefined) return { status: 'loading', user: null, reason: null, description: null, refresh, signOut };
  const user = s.status === 'signed-in' ? (s.name === undefined ? { sub: s.sub } : { sub: s.sub, name: s.name }) : null;
  if (s.status === 'signed-in') return { status: s.status, user, reason: null, description: null, refresh, signOut };
  return { status: s.status, user, reason: s.reason, description: s.description, refresh, signOut };
}

/** What a render shows of a snapshot: two snapshots with the same key render the same. */
export function snapshotKey(s: KnownSnapshot | undefined): string {
  return s === undefined
    ? 'loading'
    : s.status === 'signed-in'
      ? JSON.stringify([s.status, s.sub, s.name ?? null])
      : JSON.stringify([s.status, s.reason, s.description]);
}

export interface SessionStoreOptions {
  session: SessionSnapshot | undefined;
  basePath: string;
  /** The tabs' channel and lock name. */
  name: string;
}

export class SessionStore {
  readonly tokens: TokenSource;
  readonly #base: string;
  readonly #initial: SessionValue;
  readonly #listeners = new Set<() => void>();
  readonly #oneAtATime = new OneAtATime();
  #snapshot: KnownSnapshot | undefined;
  #snapshotAt = Date.now();
  #value: SessionValue;
  #reading: Promise<KnownSnapshot> | undefined;
  #signingOut: Promise<void> | undefined;
  #readAt = 0;
  #tokenTriedAt = 0;
  #failures = 0;
  /** The last read answered the expiry the one before did: the server refreshes only nearer the end. */
  #sameEnd = false;
  /** The server's clock less this one's, ms, from the `Date` of its answers when they are more than CLOCK_SLACK_MS apart (`expiresAt` is on the server's clock). */
  #offset = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #unwatch: (() => void) | undefined;

  constructor(options: SessionStoreOptions) {
    this.#base = options.basePath.replace(/\/+$/, '');
    // `unavailable` (the server could not reach the token service): nothing known yet, as without a snapshot.
    this.#snapshot = options.session?.status === 'unavailable' ? undefined : options.session;
    this.#value = this.#initial = valueOf(this.#snapshot, this);
    this.tokens = new TokenSource(options.name, { fetch: () => this.#fetchToken(), unauthorized: () => this.#unauthorized(), settled: () => this.#arm() }, () =>
      this.#tokenChanged(),
    );
  }

  subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  };
  getValue = (): SessionValue => this.#value;
  /** The first render's value, on the server and while hydrating: the snapshot the server rendered, exactly. */
  getServerValue = (): SessionValue => this.#initial;
  getTokenValue = (): string | null => this.tokens.token;

  refresh = async (): Promise<void> => void (await this.#read());

  signOut = (): Promise<void> => {
    this.#signingOut ??= this.#oneAtATime
      .run(() => request(`${this.#base}/signout`, { method: 'POST' }))
      .then(async (res) => {
        if (res.status >= 500 || res.status === 429) throw new TransientRefreshError(`The sign-out route answered ${res.status}`);
        if (!res.ok) throw new BatonClientError('ERR_CLIENT_REJECTED', `The sign-out route refused this page (${res.status})`);
        const said = parseSessionSnapshot(await boundedText(res).then(parseJson));
        this.#apply(said?.status === 'signed-out' ? said : SIGNED_OUT_HERE);
      })
      .finally(() => (this.#signingOut = undefined));
    return this.#signingOut;
  };

  getToken = (): Promise<string> => {
    if (this.#snapshot?.status === 'signed-out') return Promise.reject(signedOutError(this.#snapshot));
    if (typeof document === 'undefined')
      return Promise.reject(
        new BatonClientError('ERR_CONFIG', 'getToken() runs in the browser: call it from an effect or an event handler, not in a server render.'),
      );
    this.tokens.open(); // a first render's use(getToken()) comes before the provider's effect; stop() closes it
    return this.tokens.getToken();
  };

  /**
   * `fetch` with the access token (`Authorization: Bearer`). A 401 re-reads the session: signed
   * out, the 401 is answered and the state says why; still signed in, the refused token is dropped
   * (here and in the other tabs) and the request sent once more with a new one.
   */
  fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init);
    const again = request.clone(); // a body can be sent once
    const send = async (r: Request): Promise<Response> => {
      const token = await this.getToken();
      r.headers.set('authorization', `Bearer ${token}`);
      const res = await fetch(r);
      if (res.status === 401) this.tokens.drop(token);
      return res;
    };
    const res = await send(request);
    if (res.status !== 401) return res;
    const s = await this.#read().catch(() => undefined);
    if (s?.status !== 'signed-in') return res;
    await res.body?.cancel();
    return send(again);
  };

  /** Starts the timer, the listeners and the tabs' channel; reads the session if the server gave none. Idempotent. */
  start(): void {
    if (this.#unwatch !== undefined) return;
    this.tokens.open();
    const wake = (): void => {
      if (document.visibilityState === 'hidden') return;
      this.#readSoon();
      this.#arm();
    };
    window.addEventListener('focus', wake);
    window.addEventListener('online', wake);
    document.addEventListener('visibilitychange', wake);
    this.#unwatch = () => {
      window.removeEventListener('focus', wake);
      window.removeEventListener('online', wake);
      document.removeEventListener('visibilitychange', wake);
    };
    if (this.#snapshot === undefined) void this.#read().catch(() => undefined);
    this.#arm();
  }

  /** Removes all `start()` added; a request under way still lands. */
  stop(): void {
    this.#unwatch?.();
    this.#unwatch = undefined;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.tokens.close();
  }

  /** A snapshot a newer server render gave the provider. */
  adopt(snapshot: SessionSnapshot): void {
    if (snapshot.status !== 'unavailable' && JSON.stringify(snapshot) !== JSON.stringify(this.#snapshot)) this.#apply(snapshot);
  }

  /** Reads `{basePath}/session`; one read at a time (callers meanwhile share it). */
  #read(): Promise<KnownSnapshot> {
    this.#reading ??= this.#oneAtATime
      .run(() => {
        this.#readAt = Date.now();
        return request(`${this.#base}/session`, {}).then((res) => {
          const date = Date.parse(res.headers.get('date') ?? '');
          if (Number.isFinite(date)) this.#offset = Math.abs(date - Date.now()) > CLOCK_SLACK_MS ? date - Date.now() : 0;
          return readSnapshot(res);
        });
      })
      .then(
        (s) => {
          this.#failures = 0;
          this.#apply(s);
          return s;
        },
        (err: unknown) => {
          this.#failures++;
          throw err;
        },
      )
      .finally(() => {
        this.#reading = undefined;
        this.#arm();
      });
    return this.#reading;
  }

  /** A read the page's coming back (focus, shown again, online) or another tab's sign-out asked for: at most one a second. */
  #readSoon(): void {
    if (Date.now() - this.#readAt >= MIN_GAP_MS) void this.#read().catch(() => undefined);
  }

  #apply(s: KnownSnapshot): void {
    const before = this.#snapshot;
    this.#sameEnd = before?.status === 'signed-in' && s.status === 'signed-in' && before.expiresAt === s.expiresAt;
    this.#snapshot = s;
    this.#snapshotAt = Date.now();
    if (s.status === 'signed-out' || (before?.status === 'signed-in' && s.status === 'signed-in' && before.sub !== s.sub)) this.tokens.clear();
    if (snapshotKey(before) !== snapshotKey(s)) {
      this.#value = valueOf(s, this);
      this.#emit();
    }
    this.#arm();
  }

  #emit(): void {
    for (const listener of this.#listeners) listener();
  }

  #fetchToken() {
    return this.#oneAtATime.run(async () => readToken(await request(`${this.#base}/token`, {}), Date.now()));
  }

  async #unauthorized(): Promise<void> {
    const s = await this.#read();
    if (s.status === 'signed-out') throw signedOutError(s);
  }

  #tokenChanged(): void {
    this.#emit();
    // Another tab dropped the token (it signed out, or its session ended): this one asks the server.
    if (this.tokens.token === null && this.#snapshot?.status === 'signed-in' && this.#unwatch !== undefined) this.#readSoon();
    this.#arm();
  }

  /** When the session should be read again: before its access token ends (the server refreshes it then), later after failures. */
  #sessionDue(): number | undefined {
    if (this.#reading !== undefined) return undefined;
    const floor = this.#readAt + Math.min(30_000, MIN_GAP_MS * 2 ** Math.max(0, this.#failures - 1)); // after failures: 1, 2, 4 … 30 s
    const s = this.#snapshot;
    if (s === undefined) return floor; // the first read failed: again, backing off
    if (s.status !== 'signed-in') return undefined;
    const end = s.expiresAt - this.#offset; // on this machine's clock
    const margin = Math.min(60_000, Math.max(MIN_GAP_MS, (end - this.#snapshotAt) / 5));
    return Math.max(floor, this.#sameEnd ? end + 500 : end - margin);
  }

  #tokenDue(): number | undefined {
    const at = this.tokens.renewAt();
    return at === undefined || this.tokens.renewing ? undefined : Math.max(at, this.#tokenTriedAt + MIN_GAP_MS);
  }

  /** The one timer: set for whichever is due first, in steps of at most STEP_MS. */
  #arm(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#unwatch === undefined) return;
    const dues = [this.#sessionDue(), this.#tokenDue()].filter((d) => d !== undefined);
    if (dues.length === 0) return;
    this.#timer = setTimeout(() => this.#tick(), Math.max(0, Math.min(Math.min(...dues) - Date.now(), STEP_MS)));
  }

  #tick(): void {
    this.#timer = undefined;
    const now = Date.now();
    const session = this.#sessionDue();
    const token = this.#tokenDue();
    if (session !== undefined && now >= session) void this.#read().catch(() => undefined);
    if (token !== undefined && now >= token) {
      this.#tokenTriedAt = now;
      void this.tokens.renew().catch(() => undefined); // its end re-arms the timer
    }
    this.#arm();
  }
}
