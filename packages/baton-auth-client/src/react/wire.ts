/**
 * The three endpoints of a server-rendered app's auth routes (`{basePath}/session`, `/token`,
 * `/signout`) as the React provider reads them: answers checked for their shape and read to a
 * bounded size, so a broken or hostile answer is an error the provider keeps its state through,
 * never a state it takes.
 */
import { boundedText as readBounded, parseSessionSnapshot } from 'baton-auth/protocol';
import type { SessionSnapshot } from 'baton-auth/protocol';
import { BatonClientError, NotSignedInError, SessionEndedError, TransientRefreshError } from '../errors.ts';
import { sessionEndMessage } from '../session-end.ts';
import { tokensFrom } from '../tokens.ts';
import type { StoredTokens } from '../types.ts';

/** The most of an answer read: a snapshot or a token answer is well under it (a JWT of a few kB). */
export const MAX_ANSWER_BYTES = 16 * 1024;

/** The body of `res` as text, refusing one past `max` bytes without reading further. */
export async function boundedText(res: Response, max = MAX_ANSWER_BYTES): Promise<string> {
  const text = await readBounded(res.body, max, res.headers.get('content-length'));
  if (text === undefined) throw new TransientRefreshError(`The answer of ${res.url || 'the auth route'} is larger than ${max} bytes`);
  return text;
}

/** `text` as JSON, or undefined when it is not JSON. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The snapshot after this tab signed out, when the server's answer does not carry one. */
export const SIGNED_OUT_HERE: KnownSnapshot = { status: 'signed-out', reason: 'logout', description: sessionEndMessage({ reason: 'logout' }) };

/** The snapshot of an answer that is not one: a 401 without a body means nobody is signed in. */
const NOT_SIGNED_IN: KnownSnapshot = { status: 'signed-out', reason: null, description: 'Not signed in.' };

/** A snapshot the page can take: signed in or out (`unavailable` says nothing new: the session is kept). */
export type KnownSnapshot = Exclude<SessionSnapshot, { status: 'unavailable' }>;

/** What `{basePath}/session` answered, or a `TransientRefreshError` (the state is kept): an `unavailable` snapshot is one. */
export async function readSnapshot(res: Response): Promise<KnownSnapshot> {
  if (res.status >= 500 || res.status === 429) throw new TransientRefreshError(`The session route answered ${res.status}`);
  const snapshot = parseSessionSnapshot(parseJson(await boundedText(res)));
  if (snapshot?.status === 'unavailable') throw new TransientRefreshError('The session route could not reach the token service; the session is kept');
  if (snapshot !== undefined && (res.ok || res.status === 401)) return snapshot;
  if (res.status === 401) return NOT_SIGNED_IN;
  throw new TransientRefreshError(`The session route answered ${res.status} without a session snapshot`);
}

/** What `{basePath}/token` answered: tokens, `unauthorized` (a 401), or a `BatonClientError`. */
export async function readToken(res: Response, receivedAt: number): Promise<StoredTokens | 'unauthorized'> {
  if (res.status === 401) {
    await res.body?.cancel();
    return 'unauthorized';
  }
  if (res.status >= 500 || res.status === 429) throw new TransientRefreshError(`The token route answered ${res.status}`);
  if (!res.ok) throw new BatonClientError('ERR_CLIENT_REJECTED', `The token route refused this page (${res.status}): it serves same-origin callers only`);
  let json: { access_token?: unknown; expires_in?: unknown };
  try {
    json = JSON.parse(await boundedText(res)) as typeof json;
  } catch (err) {
    if (err instanceof BatonClientError) throw err;
    throw new TransientRefreshError('The token route answered something that is not JSON');
  }
  const ttl = json?.expires_in;
  if (typeof json?.access_token !== 'string' || json.access_token === '' || typeof ttl !== 'number' || !Number.isFinite(ttl) || ttl <= 0)
    throw new TransientRefreshError('The token route answered without `access_token` and a positive `expires_in`');
  return tokensFrom({ access_token: json.access_token, expires_in: ttl }, receivedAt, undefined, 'cookie');
}

/** The error a caller of `getToken` gets once the session says nobody is signed in. */
export function signedOutError(snapshot: Extract<SessionSnapshot, { status: 'signed-out' }>): BatonClientError {
  return snapshot.reason === null ? new NotSignedInError(snapshot.description) : new SessionEndedError(snapshot.description, { reason: snapshot.reason });
}

/** Runs one request at a time, in the order asked. */
export class OneAtATime {
  #tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#tail.then(fn);
    this.#tail = next.catch(() => undefined);
    return next;
  }
}

/** A failure of `fetch` itself (offline, refused) as the SDK's error for it. */
export async function request(url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, { credentials: 'same-origin', cache: 'no-store', ...init, headers: { accept: 'application/json' } });
  } catch (err) {
    throw new TransientRefreshError(`${url} could not be reached`, { cause: err });
  }
}
