/**
 * `baton-auth/ssr` against the standalone service on a free port: one rotation however many
 * requests race with the same cookie (and the late ones get the same pair), the forwarded Cookie
 * header carrying the new tokens, `read` never refreshing, a revocation at the service seen here
 * within a second with its reason, and sign-in and sign-out.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServerSession } from 'baton-auth/ssr';
import type { ServerSession } from 'baton-auth/ssr';
import { eventually } from '../support/eventually.ts';
import { startTestService } from '../support/service.ts';
import type { TestService } from '../support/service.ts';

const SECRET = 'introspection-secret-of-32-characters!!';
const USER = { username: 'ada', password: 'ada password 1' };

let service: TestService;
let session: ServerSession;
const rotations: string[] = [];
const revoked: string[] = [];

/** The `name=value` pairs of Set-Cookie strings. */
const jar = (setCookies: string[]): Record<string, string> =>
  Object.fromEntries(setCookies.map((s) => s.split(';')[0] as string).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
const header = (cookies: Record<string, string>): string =>
  Object.entries(cookies)
    .map(([k, v]) => `${k}=${v}`)
    .join('; ');

async function signedIn(): Promise<Record<string, string>> {
  const { state, setCookies } = await session.signIn(USER);
  expect(state.status).toBe('signed-in');
  return jar(setCookies);
}

beforeAll(async () => {
  service = await startTestService({ BATON_INTROSPECTION_SECRET: SECRET, BATON_TRUST_PROXY: 'loopback' }, USER);
  service.server.service.baton.on('refresh.rotated', (e) => rotations.push(e.type));
  service.server.service.baton.on('session.revoked', (e) => revoked.push(e.type === 'session.revoked' ? e.reason : ''));
  session = createServerSession({ issuer: service.url, clientId: 'default', introspection: { clientId: 'resource-server', clientSecret: SECRET } });
});
afterAll(async () => {
  session?.close();
  await service?.stop();
});

describe('createServerSession against the service', () => {
  it('signs in: both cookies HttpOnly, SameSite=Strict, __Host-; read() verifies them without a call to the token endpoint', async () => {
    const { state, setCookies } = await session.signIn(USER);
    expect(state.status === 'signed-in' && state.claims.iss).toBe(service.url);
    const names = setCookies.map((s) => s.slice(0, s.indexOf('=')));
    expect(names).toEqual(['__Host-baton_at', '__Host-baton_rt', '__Host-baton_end']);
    for (const s of setCookies) expect(s).toMatch(/HttpOnly; SameSite=Strict; Secure/);
    expect((await session.read(header(jar(setCookies)))).status).toBe('signed-in');
    expect(session.snapshot(state)).toEqual({ status: 'signed-in', sub: expect.any(String), scope: expect.any(String), expiresAt: expect.any(Number) });
    expect(JSON.stringify(session.snapshot(state))).not.toContain(jar(setCookies)['__Host-baton_at']);
  });

  it('refreshes once for 25 concurrent requests with the same cookie, and a late one gets the same pair', async () => {
    const cookies = await signedIn();
    const only = header({ '__Host-baton_rt': cookies['__Host-baton_rt'] as string, theme: 'dark' });
    const before = rotations.length;
    const outcomes = await Promise.all(Array.from({ length: 25 }, () => session.refresh(only)));
    expect(rotations.length - before).toBe(1);
    const pairs = new Set(outcomes.map((o) => jar(o.setCookies)['__Host-baton_rt']));
    expect(pairs.size).toBe(1);
    expect(pairs.has(cookies['__Host-baton_rt'])).toBe(false);
    for (const o of outcomes) expect(o.state.status).toBe('signed-in');
    // The forwarded request carries the new tokens, and keeps the app's own cookies.
    const forwarded = outcomes[0]?.requestCookie ?? '';
    expect(forwarded).toContain(`__Host-baton_rt=${[...pairs][0]}`);
    expect(forwarded).toContain('theme=dark');
    expect((await session.read(forwarded)).status).toBe('signed-in');
    const late = await session.refresh(only); // set out with the old cookie before the new one arrived
    expect(jar(late.setCookies)['__Host-baton_rt']).toBe([...pairs][0]);
    expect(rotations.length - before).toBe(1);
  });

  it('read() never refreshes: a refresh cookie alone reads as not signed in, and nothing rotates', async () => {
    const cookies = await signedIn();
    const before = rotations.length;
    const state = await session.read(header({ '__Host-baton_rt': cookies['__Host-baton_rt'] as string }));
    expect(state).toMatchObject({ status: 'signed-out', reason: null });
    expect(rotations.length).toBe(before);
  });

  it('a valid access token far from its end passes without a refresh; the forwarded header is the one received', async () => {
    const cookies = header(await signedIn());
    const before = rotations.length;
    const outcome = await session.refresh(cookies);
    expect([outcome.state.status, outcome.setCookies, outcome.requestCookie, rotations.length - before]).toEqual(['signed-in', [], cookies, 0]);
  });

  it('a session revoked at the service: refused here within a second, and the refresh says why and clears the cookies', async () => {
    const cookies = await signedIn();
    const all = header(cookies);
    expect((await session.read(all)).status).toBe('signed-in'); // the feed is followed
    const state = await session.read(all);
    const sid = state.status === 'signed-in' ? (state.claims.sid as string) : '';
    const at = Date.now();
    await service.server.service.baton.revokeSession(sid, 'admin');
    await eventually(async () => (await session.read(all)).status === 'signed-out', { what: 'the revocation to reach the app', timeoutMs: 1000 });
    expect(Date.now() - at).toBeLessThan(1000);
    const outcome = await session.refresh(all);
    expect(outcome.state).toMatchObject({ status: 'signed-out', reason: 'admin' });
    const set = jar(outcome.setCookies);
    expect([set['__Host-baton_at'], set['__Host-baton_rt'], set['__Host-baton_end']]).toEqual(['', '', 'admin']);
    for (const s of outcome.setCookies.slice(0, 2)) expect(s).toContain('Max-Age=0');
    // The rest of the render reads the reason, not the dead tokens.
    expect(outcome.requestCookie).toBe('__Host-baton_end=admin');
    expect(await session.read(outcome.requestCookie)).toMatchObject({ status: 'signed-out', reason: 'admin' });
  });

  it('a refresh token the service does not know (invalid_grant): signed out, both cookies cleared', async () => {
    const outcome = await session.refresh('__Host-baton_rt=rt_nothing.1.AAAA');
    expect(outcome.state.status).toBe('signed-out');
    expect(jar(outcome.setCookies)).toMatchObject({ '__Host-baton_at': '', '__Host-baton_rt': '' });
  });

  it('signs out: revokes the session at the service (RFC 7009) and clears both cookies', async () => {
    const cookies = await signedIn();
    const { setCookies, revoked: done } = await session.signOut(header(cookies));
    expect(done).toBe(true);
    expect(revoked.at(-1)).toBe('logout');
    expect(jar(setCookies)).toEqual({ '__Host-baton_at': '', '__Host-baton_rt': '', '__Host-baton_end': 'logout' });
    expect((await session.refresh(header({ '__Host-baton_rt': cookies['__Host-baton_rt'] as string }))).state.status).toBe('signed-out');
  });

  it("signIn passes the user's address on (X-Forwarded-For), for the service's login protection behind BATON_TRUST_PROXY", async () => {
    const { state } = await session.signIn({ ...USER, ip: '203.0.113.7' });
    const sub = state.status === 'signed-in' ? state.claims.sub : '';
    const sid = state.status === 'signed-in' ? state.claims.sid : '';
    const sessions = await service.server.service.baton.listSessions(sub);
    expect(sessions.find((s) => s.id === sid)?.device.ip).toBe('203.0.113.7');
    const { state: plain } = await session.signIn({ ...USER, ip: 'not an address' });
    const again = await service.server.service.baton.listSessions(sub);
    expect(again.find((s) => s.id === (plain.status === 'signed-in' ? plain.claims.sid : ''))?.device.ip).toBe('127.0.0.1');
  });

  it('a wrong password is a signed-out state saying so, with no cookie', async () => {
    const { state, setCookies } = await session.signIn({ username: 'ada', password: 'wrong password 1' });
    expect([state.status, state.status === 'signed-out' && state.description, setCookies]).toEqual(['signed-out', 'Wrong username or password', []]);
  });
});
