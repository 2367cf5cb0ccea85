/**
 * What one socket may cost (`baton-auth/ws`): the frames of a message and the chunks of a frame
 * ws holds, what waits in memory for a client that does not read, and the messages it may send a
 * second.
 */
import { WebSocket } from 'ws';

/**
 * Frames of one message at most (RFC 6455 §5.4 lets a message be split in any number): ws keeps
 * one Buffer per frame until the message ends, about 115 bytes of heap beyond its payload, so a
 * message of 1-byte frames would pin 100 times its size. A client sends a message whole, or in a
 * few frames; past this ws closes the socket with 1008.
 */
export const MAX_FRAGMENTS = 64;
/**
 * TCP chunks of one unfinished frame that ws holds at most (one Buffer each): a frame trickled a
 * byte per segment would otherwise pin ~115 bytes per byte. Past this ws closes with 1008.
 */
export const MAX_CHUNKS = 256;

/** A `WebSocket` whose sends are bounded; `overflow` is called once a bound is passed. */
export type BoundedSocket = WebSocket & { overflow: (() => void) | undefined };

/** The `WebSocket` class for ws to make sockets of, bounded by `maxBufferedBytes` and `maxBufferedMessages`. */
export function boundedSocket(maxBufferedBytes: number, maxBufferedMessages: number): typeof WebSocket {
  /**
   * A socket whose every send is checked against the buffered bounds, the application's too:
   * a client that does not read makes what is sent to it wait in memory, each message costing
   * about 150 bytes of heap beyond its own (the `WebSocket` option of ws 8.5+).
   */
  class BoundedSocket extends WebSocket {
    /**
     * Messages handed to the socket and not yet written out, counted since its buffer was last
     * empty (a write's callback may come a tick after the write: those of an earlier round are
     * not counted down again).
     */
    #pending = 0;
    #round = 0;
    /** Called once a bound is passed. */
    overflow: (() => void) | undefined;

    override send(
      data: Parameters<WebSocket['send']>[0],
      options?: Parameters<WebSocket['send']>[1] | ((err?: Error) => void),
      cb?: (err?: Error) => void,
    ): void {
      const done = typeof options === 'function' ? options : cb;
      const sendOptions = typeof options === 'function' ? {} : (options ?? {});
      if (this.readyState !== WebSocket.OPEN) return super.send(data, sendOptions, done);
      if (this.bufferedAmount === 0) {
        this.#round++;
        this.#pending = 0;
      }
      const round = this.#round;
      this.#pending++;
      super.send(data, sendOptions, (err) => {
        if (round === this.#round) this.#pending--;
        done?.(err);
      });
      if (this.bufferedAmount > maxBufferedBytes || this.#pending > maxBufferedMessages) this.overflow?.();
    }

    /** ws's automatic answer to a ping comes through here: bounded the same way (in bytes). */
    override pong(data?: unknown, mask?: boolean, cb?: (err: Error) => void): void {
      super.pong(data, mask, cb);
      if (this.bufferedAmount > maxBufferedBytes) this.overflow?.();
    }
  }
  return BoundedSocket;
}

/** The message budget of one socket: a token bucket of a second's worth, filled on the monotonic clock. */
export class MessageBudget {
  readonly #rate: number;
  #tokens: number;
  #filled = performance.now();

  constructor(ratePerSecond: number) {
    this.#rate = ratePerSecond;
    this.#tokens = ratePerSecond;
  }

  /** Spends one message of the budget; false when none is left. */
  spend(): boolean {
    const at = performance.now();
    this.#tokens = Math.min(this.#rate, this.#tokens + ((at - this.#filled) * this.#rate) / 1000);
    this.#filled = at;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
