/**
 * The revocation feed delivers every revocation to a follower whatever the interleaving (#21,
 * finding 4): writes from two instances whose clocks differ by up to 3 s, publication that reaches
 * the serving instance late and out of order, streams dropped at any moment, reconnects landing on
 * either instance. It drives the real route (`createAuthHandler`) and the real follower
 * (`followFeed`) over one memory store; `sqlite-skew.test.ts` does the same on a real file.
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createBaton, generateKey } from 'baton-auth';
import type { RevocationEvent, TokenStore } from 'baton-auth';
import { createAuthHandler, staticClients } from 'baton-auth/http';
import type { AuthHandler } from 'baton-auth/http';
import { memoryStore } from 'baton-auth/stores/memory';
import { followFeed } from '../../packages/baton-auth/src/remote/feed.ts';
import type { FeedEvent } from '../../packages/baton-auth/src/remote/feed.ts';
import { eventually } from '../support/eventually.ts';

const ISSUER = 'https://auth.test';
const SECRET = 'resource-server-secret-of-32-characters';
const BASIC = `Basic ${Buffer.from(`rs:${SECRET}`).toString('base64')}`;

/** A client of `store` whose subscription hears of each revocation late, after its own delay: out of order. */
function lateSubscriber(store: TokenStore, delays: number[]): TokenStore {
  return new Proxy(store, {
    get(target, prop) {
      if (prop === 'subscribe') {
        return (listener: (e: RevocationEvent) => void) => target.subscribe((e) => void setTimeout(() => listener(e), delays.shift() ?? 0));
      }
      const value = Reflect.get(target, prop) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

type Op = { op: 'revoke'; on: 0 | 1; what: 'session' | 'token' } | { op: 'drop' } | { op: 'wait'; ms: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('revoke' as const), on: fc.constantFrom(0 as const, 1 as const), what: fc.constantFrom('session' as const, 'token' as const) }),
  fc.record({ op: fc.constant('drop' as const) }),
  fc.record({ op: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 30 }) }),
);

const jtiOf = (token: string): string => (JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString()) as { jti: string }).jti;

describe('revocation feed: every revocation reaches the follower (property)', () => {
  it('whatever the skew (±3 s), publication order, drops and reconnects', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: -3000, max: 3000 }),
        fc.array(fc.integer({ min: 0, max: 120 }), { maxLength: 30 }),
        fc.array(fc.constantFrom(0, 1), { maxLength: 30 }),
        fc.array(opArb, { minLength: 1, maxLength: 25 }),
        async (skew, delays, route, ops) => {
          const shared = memoryStore();
          const keys = [generateKey('EdDSA', 'ed')];
          const refreshTokenSecret = randomBytes(32);
          // Instance 0 keeps the right time; instance 1's clock is `skew` ms off. Each hears of the other's revocations late.
          const instances = [0, skew].map((offset) => {
            const baton = createBaton({ issuer: ISSUER, keys, refreshTokenSecret, store: lateSubscriber(shared, [...delays]), now: () => Date.now() + offset });
            const handler: AuthHandler = createAuthHandler({
              baton,
              authenticate: async () => null,
              clients: staticClients([{ id: 'rs', secret: SECRET, introspect: true }]),
            });
            return { baton, handler };
          });
          // Each connection goes to the instance `route` says (a load balancer); `drop` cuts the open ones.
          const drops = new Set<() => void>();
          const connect: typeof fetch = async (input, init) => {
            const { handler } = instances[route.shift() ?? 0] as (typeof instances)[number];
            const res = await handler(new Request(String(input), { headers: init?.headers ?? {} }), { ip: '127.0.0.1' });
            if (res.body === null) return res;
            const reader = res.body.getReader();
            let drop = (): void => undefined;
            const body = new ReadableStream<Uint8Array>({
              start: (c) => {
                drop = () => {
                  drops.delete(drop);
                  try {
                    c.error(new Error('dropped'));
                  } catch {
                    // already closed
                  }
                  void reader.cancel().catch(() => undefined);
                };
                drops.add(drop);
              },
              pull: async (c) => {
                const r = await reader.read().catch(() => ({ done: true as const, value: undefined }));
                try {
                  if (r.done) c.close();
                  else c.enqueue(r.value);
                } catch {
                  // dropped meanwhile
                }
              },
              cancel: () => {
                drops.delete(drop);
                return reader.cancel();
              },
            });
            return new Response(body, { status: res.status, headers: res.headers });
          };
          const got = new Set<string>();
          const follower = followFeed({
            url: `${ISSUER}/oauth/revocations`,
            authorization: BASIC,
            fetch: connect,
            backoffMs: () => 5,
            onEvent: (e: FeedEvent) => got.add(`${e.kind}:${e.id}`),
          });
          const wanted: string[] = [];
          try {
            let n = 0;
            for (const step of ops) {
              if (step.op === 'drop') for (const drop of [...drops]) drop();
              else if (step.op === 'wait') await new Promise((r) => setTimeout(r, step.ms));
              else {
                const { baton } = instances[step.on] as (typeof instances)[number];
                const pair = await baton.login(`user-${n++}`);
                if (step.what === 'session') {
                  await baton.revokeSession(pair.session_id, 'logout');
                  wanted.push(`session:${pair.session_id}`);
                } else {
                  await baton.revoke(pair.access_token);
                  wanted.push(`token:${jtiOf(pair.access_token)}`);
                }
              }
            }
            await eventually(() => wanted.every((w) => got.has(w)), { timeoutMs: 3000, what: 'every revocation at the follower' }).catch(() => undefined);
            expect(
              wanted.filter((w) => !got.has(w)),
              `skew ${skew} ms: revocations the follower never got`,
            ).toEqual([]);
          } finally {
            follower.close();
            for (const drop of [...drops]) drop();
            for (const { baton } of instances) baton.close();
          }
        },
      ),
      { numRuns: 30 },
    );
  }, 120_000);
});

describe('revocation feed: the cursor on the wire', () => {
  it("JSON pages after a cursor; ids are the store's cursor, not times; a bad cursor is a 400 with a sentence", async () => {
    const store = memoryStore();
    const baton = createBaton({ issuer: ISSUER, keys: [generateKey('EdDSA', 'ed')], refreshTokenSecret: randomBytes(32), store });
    const handler = createAuthHandler({ baton, authenticate: async () => null, clients: staticClients([{ id: 'rs', secret: SECRET, introspect: true }]) });
    const get = (query: string, headers: Record<string, string> = {}) =>
      handler(new Request(`${ISSUER}/oauth/revocations${query}`, { headers: { authorization: BASIC, ...headers } }), { ip: '127.0.0.1' });
    try {
      const now = Date.now();
      // Written in this order, with times going backwards (clocks that disagree).
      for (const [i, at] of [now, now - 3000, now - 1000].entries())
        await store.announce({ kind: 'token', id: `t${i}`, at, expiresAt: now + 60_000, reason: 'revoked' });
      const all = (await (await get('')).json()) as { events: { id: string }[]; cursor: number };
      expect(all.events.map((e) => e.id)).toEqual(['t0', 't1', 't2']);
      const cursors = (await baton.revocationsAfter(0)).map((e) => e.seq as number);
      expect(all.cursor).toBe(cursors[2]);
      const after = (await (await get(`?after=${cursors[0]}`)).json()) as { events: { id: string }[]; cursor: number };
      expect(after).toEqual({ events: [expect.objectContaining({ id: 't1' }), expect.objectContaining({ id: 't2' })], cursor: cursors[2] });
      expect(((await (await get('', { 'last-event-id': String(cursors[1]) })).json()) as { events: { id: string }[] }).events.map((e) => e.id)).toEqual(['t2']);
      // A follower of the last release resumes with since=<its last id>: read as the cursor it is.
      expect(((await (await get(`?since=${cursors[1]}`)).json()) as { events: { id: string }[] }).events.map((e) => e.id)).toEqual(['t2']);
      for (const bad of ['?after=-1', '?after=abc', '?after=1e400']) {
        const res = await get(bad);
        expect(res.status).toBe(400);
        expect(((await res.json()) as { error_description: string }).error_description).toMatch(/after is a cursor of the feed/);
      }
    } finally {
      baton.close();
    }
  });
});
