/** The handler's registry of streaming responses (the revocation feed), so that it can end them. */
import type { HandlerContext } from './context.ts';

/**
 * The streaming responses open now, each with the function that ends it. Once they were all
 * ended (the server is stopping), a stream opened later ends at once: a client reconnecting on a
 * kept-alive socket must not hold the server open.
 */
export function openStreams(): HandlerContext['streams'] {
  const open = new Map<() => void, string>();
  let closed = false;
  return {
    get closed() {
      return closed;
    },
    count: (owner) => [...open.values()].filter((o) => o === owner).length,
    add: (close, owner) => {
      if (closed) {
        queueMicrotask(close);
        return () => undefined;
      }
      open.set(close, owner);
      return () => open.delete(close);
    },
    closeAll: (final) => {
      if (final) closed = true;
      [...open.keys()].forEach((close) => close());
    },
  };
}
