/**
 * What the Node adapter's lazy `Request` (`adapters/node-request.ts`) offers the handler beyond a
 * `Request`'s own members: its body as the bytes already read, and the real `Request` for code of
 * the app's. Any other `Request` has neither, and is taken as it is. Also what the lazy `Request`
 * and the handler's lazy `Response` (`http/lazy-response.ts`) share: delegation to the real object.
 */

/**
 * A request's body already in memory (the Node adapter's lazy `Request`, `adapters/node-request.ts`):
 * `readBody` takes it as it is, without a stream. `undefined` when the request has none to give.
 */
export const BUFFERED_BODY: unique symbol = Symbol('baton.bufferedBody');

/** The real `Request` behind a lazy one (the Node adapter's), built once: what the app's own code is handed. */
export const REAL_REQUEST: unique symbol = Symbol('baton.realRequest');

/**
 * `request` as a real `Request` for code of the app's (`authorization.currentUser`, `signOut`): a
 * lazy one fails undici's brand checks (`new Request(request)`, `fetch(request)`), any other is itself.
 */
export function realRequest(request: Request): Request {
  const real = (request as { [REAL_REQUEST]?: () => Request })[REAL_REQUEST];
  return typeof real === 'function' ? real.call(request) : request;
}

/** Whether `request` is a lazy one (the Node adapters'): their callers write lazy answers as they are. */
export function isLazyRequest(request: Request): boolean {
  return typeof (request as { [REAL_REQUEST]?: unknown })[REAL_REQUEST] === 'function';
}

/** The body of `request` as text, leaving it unread: a lazy request's buffered bytes, or a clone's. */
export async function peekText(request: Request): Promise<string> {
  const buffered = (request as { [BUFFERED_BODY]?: Uint8Array | null })[BUFFERED_BODY];
  if (buffered === null) return '';
  return buffered === undefined ? request.clone().text() : new TextDecoder().decode(buffered);
}

/**
 * Makes `prototype` a lazy stand-in for `Base` (`Request` or `Response`): each of `getters` and
 * `methods` is read from, or called on, the real object `build` makes of the stand-in (once).
 */
export function delegateTo<T extends object>(prototype: object, Base: { prototype: T }, build: (self: never) => T, getters: string[], methods: string[]): void {
  for (const key of getters)
    Object.defineProperty(prototype, key, {
      get(this: never) {
        return (build(this) as Record<string, unknown>)[key];
      },
    });
  for (const key of methods)
    Object.defineProperty(prototype, key, {
      value(this: never) {
        const real = build(this) as Record<string, () => unknown>;
        return (real[key] as () => unknown).call(real);
      },
    });
  Object.setPrototypeOf(prototype, Base.prototype);
}

/**
 * Keeps a lazy stand-in's `prototype` under the `Base` the global names now: a server that
 * replaces the global `Request` and `Response` with subclasses (`@hono/node-server` does, at its
 * first `serve`) would otherwise see `instanceof Response` false for a stand-in made after, and
 * code telling a refusal from claims by it would take one for the other.
 */
export function underCurrent(prototype: object, Base: { prototype: object }): void {
  if (Object.getPrototypeOf(prototype) !== Base.prototype) Object.setPrototypeOf(prototype, Base.prototype);
}
