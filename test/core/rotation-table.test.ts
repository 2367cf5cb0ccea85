/**
 * The rotation table as a specification, row by row: session state × presented refresh token →
 * outcome. Written from the documented rules (the README's "Rotation" table, SECURITY.md's stolen
 * refresh token and clock-step rows, RFC 9700 §4.14.2 for reuse, RFC 6749 §6 and §10.4 for the
 * client binding), not from `decideRotation`'s code: each row says what the docs promise.
 *
 * The session, unless a row says otherwise: generation 5, rotated 3 s ago (generation 4 retired
 * then) and 8 s ago (generation 3 retired then); grace window 10 s.
 */
import { describe, expect, it } from 'vitest';
import type { RotateRequest, SessionRecord } from 'baton-auth';
import { sampleSession } from 'baton-auth/stores/testing';
import { decideRotation, GRACE_RETRY_MS } from '../../packages/baton-auth/src/core/rotation.ts';
import type { RotationDecision } from '../../packages/baton-auth/src/core/rotation.ts';

const NOW = 1_800_000_000_000;
const S = 1000;
const MINUTE = 60 * S;
const GRACE = 10 * S;
const IDLE = 7 * 24 * 60 * MINUTE;

/** A live session at generation 5: generation 4 retired 3 s ago, generation 3 retired 8 s ago. */
function session(overrides: Partial<SessionRecord> = {}): SessionRecord {
  return {
    ...sampleSession(NOW - 60 * MINUTE),
    generation: 5,
    rotatedAt: NOW - 3 * S,
    prevRotatedAt: NOW - 8 * S,
    lastUsedAt: NOW - 3 * S,
    idleExpiresAt: NOW + 60 * MINUTE,
    expiresAt: NOW + 24 * 60 * MINUTE,
    rateWindowStart: NOW - 30 * S,
    rateCount: 1,
    graceCount: 0,
    graceTotal: 0,
    ...overrides,
  };
}

type Outcome = {
  status: RotationDecision['status'];
  /** Whether the record changes (a write), and how. */
  writes: false | ((before: SessionRecord, after: SessionRecord) => void);
  retryAfterMs?: number;
};

interface Row {
  state: string;
  event: string;
  session: SessionRecord | null;
  /** The presented generation, relative to the session's current one (0: current, -1: one behind). */
  behind?: number;
  request?: Partial<RotateRequest>;
  outcome: Outcome;
}

const advanced = (before: SessionRecord, after: SessionRecord) => {
  expect(after.generation).toBe(before.generation + 1);
  expect(after.rotatedAt).toBe(NOW);
  expect(after.prevRotatedAt).toBe(before.rotatedAt); // the generation just retired, and the one before
  expect(after.idleExpiresAt).toBe(NOW + IDLE); // the idle expiry moves forward
  expect(after.expiresAt).toBe(before.expiresAt); // the absolute lifetime does not
  expect(after.graceCount).toBe(0); // a new generation, no grace answer yet
  expect(after.revokedAt).toBeNull();
};
const graceCounted = (before: SessionRecord, after: SessionRecord) => {
  expect(after.generation).toBe(before.generation); // nothing changes but the count
  expect(after.rotatedAt).toBe(before.rotatedAt);
  expect(after.idleExpiresAt).toBe(before.idleExpiresAt);
  expect(after.graceCount).toBe(before.graceCount + 1);
  expect(after.graceTotal).toBe(before.graceTotal + 1);
  expect(after.revokedAt).toBeNull();
};
const killed = (retiredAt?: number) => (before: SessionRecord, after: SessionRecord) => {
  expect(after.revokedAt).toBe(NOW); // the whole session dies, committed although the request fails
  expect(after.revokeReason).toBe('reused');
  expect(after.generation).toBe(before.generation);
  expect(after.revokeDetail).toMatchObject({ generation: expect.any(Number) });
  if (retiredAt === undefined) expect(after.revokeDetail?.retiredAt).toBeUndefined();
  else expect(after.revokeDetail?.retiredAt).toBe(retiredAt);
};

const rows: Row[] = [
  // The current generation.
  { state: 'live', event: 'the current token', session: session(), outcome: { status: 'rotated', writes: advanced } },
  {
    state: 'live, a past rate window full',
    event: 'the current token',
    session: session({ rateWindowStart: NOW - 2 * MINUTE, rateCount: 30 }),
    request: { rateLimit: { max: 30, windowMs: MINUTE } },
    outcome: {
      status: 'rotated',
      writes: (b, a) => {
        advanced(b, a);
        expect(a.rateCount).toBe(1);
        expect(a.rateWindowStart).toBe(NOW);
      },
    },
  },
  {
    state: 'live, 29 rotations this minute',
    event: 'the current token',
    session: session({ rateCount: 29 }),
    request: { rateLimit: { max: 30, windowMs: MINUTE } },
    outcome: {
      status: 'rotated',
      writes: (b, a) => {
        advanced(b, a);
        expect(a.rateCount).toBe(30);
      },
    },
  },
  {
    state: 'live, 30 rotations this minute (the limit)',
    event: 'the current token',
    session: session({ rateCount: 30 }),
    request: { rateLimit: { max: 30, windowMs: MINUTE } },
    outcome: { status: 'rate_limited', writes: false, retryAfterMs: 30 * S },
  },
  {
    state: 'live, grace answers at the limit',
    event: 'the current token',
    session: session({ graceCount: 100 }),
    request: { graceLimit: 100 },
    outcome: { status: 'rotated', writes: advanced },
  },
  // One or two behind, inside the grace window.
  {
    state: 'live',
    event: 'the token one behind, retired 3 s ago',
    session: session(),
    behind: 1,
    outcome: { status: 'replayed_in_grace', writes: graceCounted },
  },
  {
    state: 'live',
    event: 'the token two behind, retired 8 s ago',
    session: session(),
    behind: 2,
    outcome: { status: 'replayed_in_grace', writes: graceCounted },
  },
  {
    state: 'live',
    event: 'the token one behind, retired exactly the grace window ago',
    session: session({ rotatedAt: NOW - GRACE }),
    behind: 1,
    outcome: { status: 'replayed_in_grace', writes: graceCounted },
  },
  {
    state: 'live, 30 rotations this minute',
    event: 'the token one behind, in grace (grace answers never count)',
    session: session({ rateCount: 30 }),
    behind: 1,
    request: { rateLimit: { max: 30, windowMs: MINUTE } },
    outcome: { status: 'replayed_in_grace', writes: graceCounted },
  },
  {
    state: 'live, 99 grace answers for this generation',
    event: 'the token one behind, in grace',
    session: session({ graceCount: 99 }),
    behind: 1,
    request: { graceLimit: 100 },
    outcome: { status: 'replayed_in_grace', writes: graceCounted },
  },
  {
    state: 'live, 100 grace answers for this generation',
    event: 'the token one behind, in grace',
    session: session({ graceCount: 100 }),
    behind: 1,
    request: { graceLimit: 100 },
    outcome: { status: 'rate_limited', writes: false, retryAfterMs: GRACE_RETRY_MS },
  },
  // Behind, outside the grace window: reuse (RFC 9700 §4.14.2).
  {
    state: 'live',
    event: 'the token one behind, retired 1 ms past the grace window',
    session: session({ rotatedAt: NOW - GRACE - 1 }),
    behind: 1,
    outcome: { status: 'reused', writes: killed(NOW - GRACE - 1) },
  },
  {
    state: 'live',
    event: 'the token two behind, retired 20 s ago',
    session: session({ prevRotatedAt: NOW - 20 * S }),
    behind: 2,
    outcome: { status: 'reused', writes: killed(NOW - 20 * S) },
  },
  {
    state: 'live',
    event: 'the token three behind (when it retired, the record no longer says)',
    session: session(),
    behind: 3,
    outcome: { status: 'reused', writes: killed() },
  },
  {
    state: 'live, 30 rotations this minute',
    event: 'the token one behind, outside the grace window',
    session: session({ rateCount: 30, rotatedAt: NOW - 20 * S }),
    behind: 1,
    request: { rateLimit: { max: 30, windowMs: MINUTE } },
    outcome: { status: 'reused', writes: killed(NOW - 20 * S) },
  },
  {
    state: 'live',
    event: 'the token one behind outside the window, from an address',
    session: session({ rotatedAt: NOW - 20 * S }),
    behind: 1,
    request: { ip: '203.0.113.9' },
    outcome: {
      status: 'reused',
      writes: (b, a) => {
        killed(NOW - 20 * S)(b, a);
        expect(a.revokeDetail?.ip).toBe('203.0.113.9');
      },
    },
  },
  // A clock behind the one that rotated (SECURITY.md: a step of the clock serves no grace answer and kills nothing).
  {
    state: "rotated 10 s in this clock's future",
    event: 'the token one behind',
    session: session({ rotatedAt: NOW + GRACE }),
    behind: 1,
    outcome: { status: 'replayed_in_grace', writes: graceCounted },
  },
  {
    state: "rotated 11 s in this clock's future",
    event: 'the token one behind',
    session: session({ rotatedAt: NOW + 11 * S }),
    behind: 1,
    outcome: { status: 'rate_limited', writes: false, retryAfterMs: GRACE_RETRY_MS },
  },
  {
    state: "rotated an hour in this clock's future",
    event: 'the token two behind',
    session: session({ rotatedAt: NOW + 60 * MINUTE, prevRotatedAt: NOW + 59 * MINUTE }),
    behind: 2,
    outcome: { status: 'rate_limited', writes: false, retryAfterMs: GRACE_RETRY_MS },
  },
  // Unknown: no side effect whatever the state.
  { state: 'no such session', event: 'any token', session: null, outcome: { status: 'unknown', writes: false } },
  { state: 'live', event: 'a token one ahead', session: session(), behind: -1, outcome: { status: 'unknown', writes: false } },
  {
    state: 'live',
    event: 'the current token, from another client',
    session: session(),
    request: { clientId: 'another-client' },
    outcome: { status: 'unknown', writes: false },
  },
  {
    state: 'live',
    event: 'an old token outside the window, from another client',
    session: session({ rotatedAt: NOW - 20 * S }),
    behind: 1,
    request: { clientId: 'another-client' },
    outcome: { status: 'unknown', writes: false },
  },
  {
    state: 'revoked',
    event: 'the current token, from another client',
    session: session({ revokedAt: NOW - MINUTE, revokeReason: 'logout' }),
    request: { clientId: 'another-client' },
    outcome: { status: 'unknown', writes: false },
  },
  // Ended sessions: said, never rotated, never killed again.
  {
    state: 'revoked',
    event: 'the current token',
    session: session({ revokedAt: NOW - MINUTE, revokeReason: 'logout' }),
    outcome: { status: 'revoked', writes: false },
  },
  {
    state: 'revoked',
    event: 'an old token outside the window',
    session: session({ revokedAt: NOW - MINUTE, revokeReason: 'logout', rotatedAt: NOW - 20 * S }),
    behind: 1,
    outcome: { status: 'revoked', writes: false },
  },
  { state: 'past its idle lifetime', event: 'the current token', session: session({ idleExpiresAt: NOW - 1 }), outcome: { status: 'expired', writes: false } },
  { state: 'past its absolute lifetime', event: 'the current token', session: session({ expiresAt: NOW - 1 }), outcome: { status: 'expired', writes: false } },
  {
    state: 'past its idle lifetime',
    event: 'an old token outside the window',
    session: session({ idleExpiresAt: NOW - 1, rotatedAt: NOW - 20 * S }),
    behind: 1,
    outcome: { status: 'expired', writes: false },
  },
];

describe('the rotation table (state × presented token → outcome)', () => {
  it.each(rows.map((r) => [`${r.state} | ${r.event} → ${r.outcome.status}`, r] as const))('%s', (_name, row) => {
    const before = row.session === null ? null : structuredClone(row.session);
    const request: RotateRequest = {
      sessionId: row.session?.id ?? 'nobody',
      generation: (row.session?.generation ?? 0) - (row.behind ?? 0),
      clientId: row.session?.clientId ?? 'web',
      now: NOW,
      graceMs: GRACE,
      idleTtlMs: IDLE,
      revocationTtlMs: 15 * MINUTE,
      ...row.request,
    };
    const decision = decideRotation(row.session, request);
    expect(decision.status).toBe(row.outcome.status);
    expect(row.session).toEqual(before); // a decision never mutates the record it is given
    if (row.outcome.retryAfterMs !== undefined) expect(decision.retryAfterMs).toBe(row.outcome.retryAfterMs);
    if (row.outcome.writes === false) {
      expect(decision.write).toBeUndefined(); // nothing changes
    } else {
      expect(decision.write).toBeDefined();
      row.outcome.writes(before as SessionRecord, decision.write as SessionRecord);
      expect(decision.session).toEqual(decision.write); // the caller sees what was written
    }
  });
});
