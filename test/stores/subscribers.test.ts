/**
 * The revocation feed of the networked stores: each event delivered once, its memory of delivered
 * events measured on the clock it is given, and the cursor it resumes after.
 */
import { describe, expect, it } from 'vitest';
import type { RevocationEvent } from 'baton-auth';
import { RevocationSubscribers } from '../../packages/baton-auth/src/stores/subscribers.ts';
import { ManualClock } from '../support/clock.ts';

describe('RevocationSubscribers', () => {
  // Years before the real time: what is measured on Date.now() instead of the clock comes out wrong.
  const clock = new ManualClock(Date.UTC(2001, 0, 1));
  const event = (id: string, at: number): RevocationEvent => ({ kind: 'session', id, at, expiresAt: at + 60_000, reason: 'test' });

  it("delivers each event once, and resumes after the largest cursor delivered, whatever the events' times", () => {
    const feed = new RevocationSubscribers(clock.now);
    const seen: string[] = [];
    feed.add((e) => seen.push(e.id));
    expect(feed.lastSeq).toBe(0);
    expect(feed.deliver({ ...event('a', clock.ms), seq: 7 })).toBe(true);
    expect(feed.deliver({ ...event('a', clock.ms), seq: 7 })).toBe(false);
    // Committed later by an instance whose clock is 3 s behind: its seq is larger, its at smaller.
    expect(feed.deliver({ ...event('b', clock.ms - 3000), seq: 8 })).toBe(true);
    expect(feed.deliver(event('c', clock.ms))).toBe(true); // a message without a cursor moves nothing
    expect(seen).toEqual(['a', 'b', 'c']);
    expect(feed.lastSeq).toBe(8);
  });

  it('past 10 000 events, forgets those older than a minute on its clock and keeps the recent ones', () => {
    const feed = new RevocationSubscribers(clock.now);
    const old = event('old', clock.ms - 61_000);
    const recent = event('recent', clock.ms - 59_000);
    feed.deliver(old);
    feed.deliver(recent);
    for (let i = 0; i < 10_000; i++) feed.deliver(event(`s${i}`, clock.ms));
    expect(feed.deliver(recent)).toBe(false); // still remembered
    expect(feed.deliver(old)).toBe(true); // forgotten, so delivered again
  });
});
