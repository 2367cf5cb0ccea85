/**
 * The revocation channel of `redis.ts`: a second connection subscribed to it, and, after that connection comes back
 * from a loss, the log re-read for what was published meanwhile. Internal.
 */
import { Cluster } from 'ioredis';
import type { Redis } from 'ioredis';
import type { RevocationSubscribers } from './subscribers.ts';
import type { Client } from './redis-connection.ts';
import type { RevocationEvent } from './types.ts';

/** A connection for SUBSCRIBE, which queues its SUBSCRIBE until it is connected (it is made just now). */
export function duplicateSubscriber(client: Client): Client {
  return client instanceof Cluster ? client.duplicate() : (client as Redis).duplicate({ enableOfflineQueue: true });
}

/** What `listen` needs from the store. */
export interface Listening {
  /** The connection commands go through, beside the subscriber. */
  client: Client;
  channel: string;
  /** The revocation log's key. */
  log: string;
  subscribers: RevocationSubscribers;
  /** Reads the log after the subscribers' cursor and delivers what it had not had. */
  reread: () => Promise<void>;
}

/**
 * Subscribes `sub` to the channel, delivering its messages to the subscribers, and returns the timer that polls the log while
 * the subscriber is down or behind (the caller clears it on close).
 */
export async function listen(sub: Client, { client, channel, log, subscribers, reread: readLog }: Listening): Promise<NodeJS.Timeout> {
  sub.on('error', () => {
    // Reconnection is ioredis's; on 'ready' below the missed revocations are re-read.
  });
  sub.on('message', (from: string, message: string) => {
    if (from !== channel) return;
    try {
      subscribers.deliver(JSON.parse(message) as RevocationEvent);
    } catch {
      // Not a Baton message: ignore.
    }
  });
  // After the subscriber is back, the log is read until a read succeeds: the other connection
  // may still be reconnecting (it queues nothing then), and what was published before the
  // subscription came back is only in the log. `epoch` keeps a read begun before from counting.
  let behind = false;
  let epoch = 0;
  const reread = (): void => {
    const mark = epoch;
    readLog().then(
      () => {
        if (mark === epoch) behind = false;
      },
      () => undefined,
    );
  };
  // The cursor to re-read after: the log's, now (what was logged before is loaded by `ready`).
  const seq = await client.get(`${log}:seq`);
  subscribers.lastSeq = Math.max(subscribers.lastSeq, Number(seq ?? 0));
  let first = true;
  sub.on('ready', () => {
    if (first) return void (first = false);
    epoch++;
    behind = true;
    reread(); // resubscribed after a loss: what may have been published meanwhile
  });
  await sub.subscribe(channel);
  first = false;
  // While the subscriber reconnects (its backoff can outlast the server's restart), the other
  // connection may already work: read the log from it rather than wait.
  const poll = setInterval(() => {
    if (sub.status !== 'ready' || behind) reread();
  }, 250);
  poll.unref();
  return poll;
}
