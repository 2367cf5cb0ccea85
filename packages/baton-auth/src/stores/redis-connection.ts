/**
 * The Redis connection of `redis.ts`: the client made from a URL, the Lua scripts defined as commands, and what asks the
 * server itself (PING, its persistence settings, a SCAN over every master). Internal.
 */
import { Cluster, Redis } from 'ioredis';
import { BatonError } from '../core/errors.ts';
import {
  ANNOUNCE,
  CONSUME_JTI,
  CREATE_SESSION,
  HIT_COUNTER,
  LIST_SESSIONS,
  LOG_EVENTS,
  REVOKE_SESSION,
  REVOKE_USER,
  ROTATE,
  SESSION_HISTORY,
  SWEEP_LOG,
} from './redis-scripts.ts';
import type { RotateStatus } from './types.ts';

export type Client = Redis | Cluster;

/** How long `ping` waits for an answer, in ms. */
const PING_TIMEOUT_MS = 3000;

/** The scripts as commands: keys first (the revoking ones end with the log key on a standalone Redis), then arguments. */
export interface Scripted {
  batonCreate(...keysAndArgs: (string | number)[]): Promise<string[]>;
  batonRotate(...keysAndArgs: (string | number)[]): Promise<[RotateStatus, number, ...(string | undefined)[]]>;
  batonRevoke(...keysAndArgs: (string | number)[]): Promise<number>;
  batonRevokeUser(...keysAndArgs: (string | number)[]): Promise<string[]>;
  batonAnnounce(log: string, ...args: (string | number)[]): Promise<number>;
  batonLogEvents(log: string, ...args: (string | number)[]): Promise<number>;
  batonSweepLog(log: string, now: number): Promise<number>;
  batonList(users: string, ...args: (string | number)[]): Promise<string[][]>;
  batonHistory(users: string, ended: string, ...args: (string | number)[]): Promise<string[][]>;
  batonHit(counter: string, ...args: (string | number)[]): Promise<[number, string]>;
  batonConsume(jti: string, ...args: (string | number)[]): Promise<number>;
}

/**
 * Builds an ioredis client from a URL, with failures surfacing quickly instead of queueing forever.
 * A standalone client queues commands only until it is first connected: after that, while its
 * connection is known to be down (it is reconnecting), a command fails at once (503 in the
 * service) rather than waiting for the next reconnection attempt and the command timeout, up to
 * 5 s a request in an outage (#22). A cluster client keeps its queue: it needs it while it learns
 * the slots again.
 */
export function connect(url: string): Client {
  const common = { maxRetriesPerRequest: 1, connectTimeout: 2000, commandTimeout: 5000 };
  if (url.startsWith('redis+cluster://')) {
    const nodes = url
      .slice('redis+cluster://'.length)
      .split(',')
      .map((hostPort) => {
        const [host, port] = hostPort.split(':');
        return { host: host ?? '127.0.0.1', port: Number(port ?? 6379) };
      });
    return new Cluster(nodes, { redisOptions: common, clusterRetryStrategy: (times: number) => Math.min(times * 100, 2000) });
  }
  const client = new Redis(url, common);
  client.once('ready', () => (client.options.enableOfflineQueue = false)); // read by ioredis at each command
  return client;
}

/** Defines the Lua scripts as commands on the client. The revoking scripts take the log key last, on a standalone Redis only. */
export function defineScripts(client: Client): Client & Scripted {
  const log = client instanceof Cluster ? 0 : 1;
  client.defineCommand('batonCreate', { numberOfKeys: 3 + log, lua: CREATE_SESSION });
  client.defineCommand('batonRotate', { numberOfKeys: 1 + log, lua: ROTATE });
  client.defineCommand('batonRevoke', { numberOfKeys: 1 + log, lua: REVOKE_SESSION });
  client.defineCommand('batonRevokeUser', { numberOfKeys: 2 + log, lua: REVOKE_USER });
  client.defineCommand('batonAnnounce', { numberOfKeys: 1, lua: ANNOUNCE });
  client.defineCommand('batonLogEvents', { numberOfKeys: 1, lua: LOG_EVENTS });
  client.defineCommand('batonSweepLog', { numberOfKeys: 1, lua: SWEEP_LOG });
  client.defineCommand('batonList', { numberOfKeys: 1, lua: LIST_SESSIONS });
  client.defineCommand('batonHistory', { numberOfKeys: 2, lua: SESSION_HISTORY });
  client.defineCommand('batonHit', { numberOfKeys: 1, lua: HIT_COUNTER });
  client.defineCommand('batonConsume', { numberOfKeys: 1, lua: CONSUME_JTI });
  return client as Client & Scripted;
}

/** The keys matching a glob pattern on every master (of a cluster, or the one server), by SCAN. */
export async function scanKeys(client: Client, pattern: string): Promise<string[]> {
  const nodes = client instanceof Cluster ? client.nodes('master') : [client];
  const found = new Set<string>();
  await Promise.all(
    nodes.map(async (node) => {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        for (const key of keys) found.add(key);
        cursor = next;
      } while (cursor !== '0');
    }),
  );
  return [...found];
}

/**
 * A sentence when Redis can lose what is kept in it: it keeps nothing across a restart
 * (`appendonly no` and no `save` points), or it evicts any key under memory pressure
 * (`maxmemory-policy allkeys-*`, or `volatile-*`, which evicts exactly the records with a TTL:
 * sessions, the revocation log, the one-time ledger). Everything is at stake, not only sessions: the records beside
 * them (the service's users, clients and sealed keys), the revocation log, the counters. Undefined
 * when neither, or when `CONFIG GET` is not allowed (managed Redis).
 */
export async function persistenceWarning(client: Client): Promise<string | undefined> {
  try {
    const node = 'nodes' in client ? (client as Cluster).nodes('master')[0] : (client as Redis);
    const [, aof] = (await node?.config('GET', 'appendonly')) as [string, string];
    const [, save] = (await node?.config('GET', 'save')) as [string, string];
    const [, policy] = (await node?.config('GET', 'maxmemory-policy')) as [string, string];
    const said: string[] = [];
    if (aof !== 'yes' && (save ?? '').trim() === '') {
      said.push(
        'Redis runs without persistence (appendonly no, no save points): a restart loses everything kept there — users, clients, the sealed keys, sessions, revocations and login limits — and the service then answers 503 until the data is restored from a backup or the store is set up afresh (`baton store init`: every user and client added again). Set `appendonly yes` (and keep an RDB save point) in redis.conf.',
      );
    }
    if ((policy ?? '').startsWith('allkeys-')) {
      said.push(
        `Redis evicts any key under memory pressure (maxmemory-policy ${policy}): users, clients, keys and sessions can vanish. Set \`maxmemory-policy noeviction\` in redis.conf.`,
      );
    } else if ((policy ?? '').startsWith('volatile-')) {
      // Every security record here has a TTL, so these are the ones evicted, and the install record (none) stays: nothing notices.
      said.push(
        `Redis evicts keys that expire under memory pressure (maxmemory-policy ${policy}): sessions, the revocation log and one-time records can vanish unnoticed, so a revoked token or a replayed proof may be accepted again. Set \`maxmemory-policy noeviction\` in redis.conf.`,
      );
    }
    return said.length === 0 ? undefined : said.join(' ');
  } catch {
    return undefined;
  }
}

/**
 * `PING`, bounded by `PING_TIMEOUT_MS`: a cluster client whose nodes are all unreachable queues
 * commands until they come back rather than failing them.
 */
export async function ping(client: Client): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new BatonError('ERR_STORE_UNAVAILABLE', `Redis did not answer PING within ${PING_TIMEOUT_MS} ms`)), PING_TIMEOUT_MS);
  });
  const answer = client.ping();
  // After a timeout the PING may still fail (when the store closes): that must not go unhandled.
  answer.catch(() => undefined);
  try {
    await Promise.race([answer, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
