/**
 * `SessionSnapshot`: what a page is told of its session, with no token in it, and read back
 * strictly by the browser (`parseSessionSnapshot`).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseSessionSnapshot } from 'baton-auth/protocol';
import { createServerSession } from 'baton-auth/ssr';
import type { SessionState } from 'baton-auth/ssr';
import { makeBaton } from '../support/baton.ts';

const { baton } = makeBaton();
const session = createServerSession({ baton });

const claims = fc.record({
  iss: fc.constant('https://auth.test'),
  sub: fc.string({ minLength: 1, maxLength: 64 }),
  aud: fc.constant('https://auth.test'),
  exp: fc.integer({ min: 1, max: 2 ** 40 }),
  iat: fc.integer({ min: 0, max: 2 ** 40 }),
  jti: fc.uuid(),
  sid: fc.uuid(),
  client_id: fc.constant('web'),
  scope: fc.option(fc.string({ maxLength: 40 }), { nil: undefined }),
});
const state: fc.Arbitrary<SessionState> = fc.oneof(
  fc.record({ claims, accessToken: fc.string({ minLength: 20, maxLength: 80 }) }).map(
    ({ claims: c, accessToken }) =>
      ({
        status: 'signed-in',
        claims: Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined)) as never,
        accessToken,
        expiresAt: c.exp * 1000,
      }) as SessionState,
  ),
  fc
    .record({ reason: fc.option(fc.constantFrom('logout', 'reused', 'idle_timeout', 'admin'), { nil: null }), description: fc.string({ maxLength: 100 }) })
    .map((s) => ({ status: 'signed-out', ...s }) as SessionState),
  fc.constant<SessionState>({ status: 'unavailable', reason: 'unavailable', description: 'away', retryAfterSec: 1 }),
);

describe('SessionSnapshot', () => {
  it('law: every state has a snapshot the browser reads back as it is, and no access token is in it', () => {
    fc.assert(
      fc.property(state, (s) => {
        const snap = session.snapshot(s);
        const json = JSON.stringify(snap);
        expect(parseSessionSnapshot(JSON.parse(json))).toEqual(snap);
        if (s.status === 'signed-in') {
          expect(json).not.toContain(s.accessToken);
          expect(Object.keys(snap).sort()).toEqual(['expiresAt', 'scope', 'status', 'sub']);
        }
      }),
    );
  });

  it('parseSessionSnapshot refuses anything else: an extra member, a token, a reason that is not a word', () => {
    const ok = { status: 'signed-in', sub: 'u1', scope: '', expiresAt: 1 };
    expect(parseSessionSnapshot(ok)).toEqual(ok);
    expect(parseSessionSnapshot({ ...ok, accessToken: 'eyJ…' })).toBeUndefined();
    expect(parseSessionSnapshot({ status: 'signed-out', reason: '<script>', description: '' })).toBeUndefined();
    expect(parseSessionSnapshot({ status: 'signed-out', reason: null, description: 'x'.repeat(600) })).toBeUndefined();
    expect(parseSessionSnapshot({ status: 'unavailable', reason: 'logout', description: '' })).toBeUndefined();
    expect(parseSessionSnapshot(null)).toBeUndefined();
    expect(parseSessionSnapshot('signed-in')).toBeUndefined();
  });
});
