/**
 * One socket of `baton-auth/ws` on the server's side: the identity it authenticated as, its
 * message budget, the timers of its token's notice and expiry, and its closing.
 */
import type { AccessTokenClaims } from '../core/access-token.ts';
import { MessageBudget } from './limits.ts';
import type { BoundedSocket } from './limits.ts';
import type { Settings } from './options.ts';
import type { Counted, Tables } from './tables.ts';
import { CLOSE, send } from './wire.ts';

export class Connection implements Counted {
  claims: Readonly<AccessTokenClaims> | undefined;
  /** The session this socket counts against in perSession, set once when it is first accepted; the one end() gives back. */
  counted: string | undefined;
  /** The user this socket counts against in perUser, set with `counted`. */
  user: string | undefined;
  /** Set while its first authentication is being verified: further `auth` messages are ignored. */
  authenticating = false;
  /** The token it authenticated with, to check again when a key is taken out of service. */
  token: string | undefined;
  /** Set when the server closes the socket: nothing it sends afterwards is delivered. */
  closing = false;
  #notice: NodeJS.Timeout | undefined;
  #expiry: NodeJS.Timeout | undefined;
  #grace: NodeJS.Timeout | undefined;
  readonly #budget: MessageBudget;
  readonly #settings: Settings;
  readonly #tables: Tables<Connection>;
  readonly socket: BoundedSocket;
  readonly address: string;
  /** What DPoP proofs of this socket name as `htu`. */
  readonly urls: string[];
  /** When it opened, on the monotonic clock: a socket without a token is never cut off for a newcomer before its first second. */
  readonly opened = performance.now();

  constructor(socket: BoundedSocket, address: string, urls: string[], settings: Settings, tables: Tables<Connection>) {
    this.socket = socket;
    this.address = address;
    this.urls = urls;
    this.#settings = settings;
    this.#tables = tables;
    this.#budget = new MessageBudget(settings.ratePerSecond);
    socket.overflow = () => this.shut(CLOSE.POLICY, 'too much unread data');
  }

  /** Whether the socket is open and not being closed by the server. */
  get open(): boolean {
    return !this.closing && this.#tables.live.has(this);
  }

  /** Spends one message of the budget; false when none is left. */
  spend(): boolean {
    return this.#budget.spend();
  }

  /**
   * Closes the socket from the server's side: at once nothing more is delivered, and a client
   * that does not answer the close frame (RFC 6455 §7.1.1) is cut off after closeGraceMs rather
   * than ws's 30 s.
   */
  shut(code: number, reason: string): void {
    if (!this.open) return;
    this.closing = true;
    clearTimeout(this.#notice);
    clearTimeout(this.#expiry);
    this.socket.close(code, reason);
    this.#grace = setTimeout(() => this.socket.terminate(), this.#settings.closeGraceMs);
  }

  /** Takes `claims` as the socket's identity (at connect or on re-authentication) and sets the notice and expiry to its `exp`. */
  accept(claims: Readonly<AccessTokenClaims>, token: string, type: string): void {
    const { now, noticeMs } = this.#settings;
    if (this.claims === undefined) {
      this.#tables.authenticated(this, claims.sid, claims.sub);
      this.counted = claims.sid;
      this.user = claims.sub;
    }
    this.claims = claims;
    this.token = token;
    clearTimeout(this.#notice);
    clearTimeout(this.#expiry);
    const left = claims.exp * 1000 - now();
    // The notice leaves the client noticeMs, or a fifth of a short token's life, to re-authenticate.
    const notice = Math.min(noticeMs, ((claims.exp - claims.iat) * 1000) / 5);
    this.#notice = setTimeout(
      () => send(this.socket, { type: 'token_expiring', expires_in: Math.max(0, Math.round((claims.exp * 1000 - now()) / 1000)) }),
      Math.max(0, left - notice),
    );
    this.#expiry = setTimeout(() => this.shut(CLOSE.UNAUTHORIZED, 'access token expired'), Math.max(0, left));
    send(this.socket, { type, expires_in: Math.max(0, Math.round(left / 1000)) });
  }

  /** The socket is gone: its timers stop and what it counted against is given back. */
  end(): void {
    clearTimeout(this.#notice);
    clearTimeout(this.#expiry);
    clearTimeout(this.#grace);
    this.#tables.release(this);
  }
}
