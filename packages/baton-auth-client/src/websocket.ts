/**
 * A WebSocket that stays authenticated against `baton-auth/ws`: it connects with the current
 * access token as a subprotocol, answers `token_expiring` with a `reauth` carrying a token from
 * the client's single-flight refresh, and reconnects with a fresh token when the server closes
 * with 4401. Application messages go to `onMessage`.
 *
 * A DPoP-bound token (RFC 9449) travels as `baton.dpop.<token>` with its proof as
 * `baton.proof.<proof>` (htm `GET`, htu the socket's URL, ath the token), and each `reauth`
 * carries a new proof for the new token in `dpop`.
 */
import type { DpopKeeper } from './dpop-keeper.ts';
import { isSignedOut } from './errors.ts';
import { absolute, originNotAllowed, socketOrigin } from './origins.ts';
import type { StoredTokens } from './types.ts';

/** What the socket needs of the client. */
export interface TokenSource {
  /** Valid tokens, refreshed first near expiry. */
  tokens(): Promise<StoredTokens>;
  refresh(seenAccessToken?: string): Promise<StoredTokens>;
  /** The client's DPoP keeper: a bound token's proof for the socket (undefined for a Bearer token). */
  dpop: Pick<DpopKeeper, 'socketProof'>;
}

/** Options of `client.websocket`. */
export interface WebSocketOptions {
  onMessage?: (data: unknown) => void;
  /** The WebSocket class (Node: `ws`'s). Default the platform's. */
  WebSocket?: typeof WebSocket;
}

/** The socket `client.websocket` returns: the current connection, replaced on each reconnect. */
export interface AuthenticatedSocket {
  send(data: string): void;
  close(): void;
  readonly current: WebSocket | undefined;
}

/** The subprotocols that carry the current token (and, for a bound one, its proof), and the token. */
async function subprotocols(source: TokenSource, href: string): Promise<{ token: string; protocols: string[] }> {
  const tokens = await source.tokens();
  const token = tokens.accessToken;
  const proof = await source.dpop.socketProof(href, tokens);
  return { token, protocols: proof === undefined ? ['baton.v1', `baton.bearer.${token}`] : ['baton.v1', `baton.dpop.${token}`, `baton.proof.${proof}`] };
}

/** A message as JSON, or undefined when it is not. */
function parse(data: unknown): { type?: string } | undefined {
  try {
    return JSON.parse(String(data)) as { type?: string };
  } catch {
    return undefined;
  }
}

/** The wait before the next attempt to open: `stepMs`, doubled with each failure in a row, at most 10 s. */
const backoff = (stepMs: number, failures: number): number => Math.min(10_000, stepMs * 2 ** failures);

/**
 * Answers the server's `token_expiring` on `ws`: a `reauth` carrying a token from the client's single-flight refresh
 * (and, for a bound token, a new proof for it in `dpop`). `state.token` is the token the socket holds: the one the
 * refresh starts from, then the new one.
 */
async function reauthenticate(source: TokenSource, href: string, ws: WebSocket, state: { token: string }): Promise<void> {
  const t = await source.refresh(state.token);
  const proof = await source.dpop.socketProof(href, t);
  state.token = t.accessToken;
  ws.send(JSON.stringify({ type: 'reauth', access_token: t.accessToken, ...(proof === undefined ? {} : { dpop: proof }) }));
}

/**
 * Opens the socket and keeps it authenticated; `onError` hears of failed re-authentications. A URL
 * of an origin the client does not send tokens to is refused at once (`ERR_ORIGIN_NOT_ALLOWED`).
 */
export function authenticatedSocket(
  source: TokenSource,
  url: string,
  options: WebSocketOptions,
  allowed: (origin: string) => boolean,
  onError: (err: Error) => void,
): AuthenticatedSocket {
  // Resolved once (a relative URL, against the document's base URL): the socket opens where the check looked.
  const resolved = absolute(url);
  const origin = socketOrigin(resolved.href);
  if (!allowed(origin)) throw originNotAllowed(origin);
  const Impl = options.WebSocket ?? globalThis.WebSocket;
  let socket: WebSocket | undefined;
  let closed = false;
  let failures = 0;
  const open = async (): Promise<void> => {
    if (closed) return;
    let state: { token: string; protocols: string[] };
    try {
      state = await subprotocols(source, resolved.href);
    } catch (err) {
      if (isSignedOut(err)) return;
      setTimeout(() => void open(), backoff(250, failures++));
      return;
    }
    const ws = new Impl(resolved.href, state.protocols);
    socket = ws;
    ws.onmessage = (event: MessageEvent) => {
      const message = parse(event.data);
      if (message?.type === 'token_expiring') void reauthenticate(source, resolved.href, ws, state).catch((err: unknown) => onError(err as Error));
      else if (message?.type === 'authenticated' || message?.type === 'reauth_ok') failures = 0;
      else if (message?.type !== 'reauth_failed') options.onMessage?.(event.data);
    };
    ws.onclose = (event: CloseEvent) => {
      if (closed) return;
      // 4401: the token ran out or the session was revoked; a fresh token decides which.
      const retry = event.code === 4401 ? source.refresh(state.token).then(() => undefined) : Promise.resolve();
      retry.then(
        () => setTimeout(() => void open(), backoff(100, failures++)),
        () => undefined, // the session ended: stay closed
      );
    };
  };
  void open();
  return {
    send: (data) => socket?.send(data),
    close: () => {
      closed = true;
      socket?.close(1000);
    },
    get current() {
      return socket;
    },
  };
}
