/**
 * #21 round 3, B4: a stream opened without a cursor read the whole backlog (`revocationsSince(0)`)
 * and held it for its reader (16 stalled streams × 100,000 revocations: heap 63 → 245 MB), an idle
 * stalled stream was never dropped, and the cursor-less JSON answer was every revocation at once
 * (9.7 MB). Now the backlog is read from the store page by page in commit order, the JSON answer
 * is one page and a cursor, and a stream whose reader takes nothing for `STALLED_HEARTBEATS`
 * heartbeats is dropped (its follower resumes from its cursor). Counted: events the route read.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, expect, it, vi } from 'vitest';
import { createBaton, generateKey } from 'baton-auth';
import type { TokenStore } from 'baton-auth';
import { createAuthHandler, staticClients } from 'baton-auth/http';
import { memoryStore } from 'baton-auth/stores/memory';
import { eventually } from '../../support/eventually.ts';

const SECRET = 'resource-server-secret-of-32-characters';
const BASIC = `Basic ${Buffer.from(`rs:${SECRET}`).toString('base64')}`;
const BACKLOG = 20_000;
const PAGE = 500;

afterEach(() => vi.useRealTimers());

/** A memory store with BACKLOG revocations in force, counting the events it hands out from its log. */
async function setup() {
  const inner = memoryStore();
  const now = Date.now();
  for (let i = 0; i < BACKLOG; i++)
    await inner.announce({ kind: 'token', id: `jti-${i}-${'x'.repeat(64)}`, at: now, expiresAt: now + 600_000, reason: 'revoked' });
  const read = { events: 0 };
  const store = new Proxy(inner, {
    get(target, prop) {
      const value = Reflect.get(target, prop) as unknown;
      if (typeof value !== 'function') return value;
      if (prop === 'revocationsSince' || prop === 'revocationsAfter') {
        return async (...args: unknown[]) => {
          const events = await (value as (...a: unknown[]) => Promise<unknown[]>).apply(target, args);
          read.events += events.length;
          return events;
        };
      }
      return (value as (...a: unknown[]) => unknown).bind(target);
    },
  }) as TokenStore;
  const baton = createBaton({ issuer: 'https://auth.test', keys: [generateKey('EdDSA', 'ed')], refreshTokenSecret: randomBytes(32), store });
  await baton.revocationsAfter(Number.MAX_SAFE_INTEGER, 1); // the engine started (it reads what is in force once)
  const handler = createAuthHandler({ baton, authenticate: async () => null, clients: staticClients([{ id: 'rs', secret: SECRET, introspect: true }]) });
  const get = (query: string, accept?: string) =>
    handler(new Request(`https://auth.test/oauth/revocations${query}`, { headers: { authorization: BASIC, ...(accept === undefined ? {} : { accept }) } }), {
      ip: '127.0.0.1',
    });
  read.events = 0;
  return { read, get };
}

it('streams without a cursor whose readers take nothing read at most a page or two of the backlog each', async () => {
  const { read, get } = await setup();
  const streams = await Promise.all(Array.from({ length: 4 }, () => get('', 'text/event-stream')));
  try {
    await eventually(() => read.events >= 4 * PAGE, { what: 'each stream read its first page' });
    await new Promise((r) => setTimeout(r, 300)); // let any stream read on, if it would
    console.info(`stalled backlog: 4 stalled streams over ${BACKLOG} revocations → ${read.events} events read from the store`);
    // Before: each stream read and held the whole backlog (4 × 20,000).
    expect(read.events).toBeLessThanOrEqual(4 * 2 * PAGE);
  } finally {
    for (const s of streams) await s.body?.cancel();
  }
});

it('the JSON answer without a cursor is one page and a cursor; its pages give every revocation in force once', async () => {
  const { get } = await setup();
  const first = (await (await get('')).json()) as { events: { id: string }[]; cursor: number };
  console.info(`stalled backlog: the cursor-less JSON answer holds ${first.events.length} events`);
  expect(first.events.length).toBeLessThanOrEqual(PAGE); // before: 20,000 in one answer
  const ids = new Set(first.events.map((e) => e.id));
  let cursor = first.cursor;
  for (;;) {
    const page = (await (await get(`?after=${cursor}`)).json()) as { events: { id: string }[]; cursor: number };
    if (page.events.length === 0) break;
    expect(page.events.length).toBeLessThanOrEqual(PAGE);
    for (const e of page.events) ids.add(e.id);
    cursor = page.cursor;
  }
  expect(ids.size).toBe(BACKLOG);
});

it('drops a stream whose reader has taken nothing for 4 heartbeats while data is queued', async () => {
  const { get } = await setup();
  vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
  const res = await get('?after=0', 'text/event-stream');
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  await vi.advanceTimersByTimeAsync(15_000 * 4);
  // Before: held open for ever. Now: errored, with the reason.
  await expect(reader.read()).rejects.toThrow(/took nothing/);
});
