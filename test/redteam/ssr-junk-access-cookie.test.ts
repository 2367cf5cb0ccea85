/**
 * Red team, `baton-auth/ssr` remote mode: the cost of junk access cookies. Each render verifies the
 * access cookie locally; a forged JWT naming an unknown `kid` must not make the app fetch the
 * service's key set once per request (a stranger's page views turned into load on the service), and
 * junk refresh cookies cost one call each and must not get the app's own address throttled.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServerSession } from 'baton-auth/ssr';
import type { ServerSession } from 'baton-auth/ssr';
import { startTestService } from '../support/service.ts';
import type { TestService } from '../support/service.ts';

let service: TestService;
let session: ServerSession;
const fetched: string[] = [];

beforeAll(async () => {
  service = await startTestService({}, { username: 'ada', password: 'ada password 1' });
  const counting: typeof fetch = (input, init) => {
    fetched.push(new URL(input instanceof Request ? input.url : String(input)).pathname);
    return fetch(input, init);
  };
  session = createServerSession({ issuer: service.url, clientId: 'default', fetch: counting });
});
afterAll(async () => {
  session?.close();
  await service?.stop();
});

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

describe('forged access cookies', () => {
  it('200 renders with JWTs of 200 unknown kids: the key set is fetched a bounded number of times, every render signed out', async () => {
    await session.read(null);
    const ok = await session.signIn({ username: 'ada', password: 'ada password 1' }); // discovery and the key set fetched once
    expect(ok.state.status).toBe('signed-in');
    const before = fetched.length;
    expect(before).toBeGreaterThan(1); // the wrapper sees the key set fetches
    const now = Math.floor(Date.now() / 1000);
    const states = await Promise.all(
      Array.from({ length: 200 }, (_, i) => {
        const jwt = `${b64({ alg: 'ES256', kid: `kid-${i}`, typ: 'at+jwt' })}.${b64({ iss: service.url, sub: 'x', aud: service.url, exp: now + 60, iat: now, jti: `j${i}`, client_id: 'default' })}.${'A'.repeat(86)}`;
        return session.read(`__Host-baton_at=${jwt}`);
      }),
    );
    expect(states.every((s) => s.status === 'signed-out')).toBe(true);
    expect(fetched.length - before).toBeLessThanOrEqual(2);
  });

  it("300 distinct junk refresh cookies from a stranger: one call each, and no throttle of the app's address stops a real user's refresh", async () => {
    const before = fetched.filter((p) => p === '/oauth/token').length;
    // In waves of 50 (all at once: test/redteam/ssr-outgoing-calls.test.ts).
    const junk: Awaited<ReturnType<ServerSession['refresh']>>[] = [];
    for (let wave = 0; wave < 6; wave++)
      junk.push(...(await Promise.all(Array.from({ length: 50 }, (_, i) => session.refresh(`__Host-baton_rt=junk-${wave}-${i}`)))));
    expect([...new Set(junk.map((o) => o.state.status))]).toEqual(['signed-out']);
    expect(fetched.filter((p) => p === '/oauth/token').length - before).toBe(300);
    const ok = await session.signIn({ username: 'ada', password: 'ada password 1' });
    const rt = ok.setCookies.find((c) => c.startsWith('__Host-baton_rt='))?.split(';')[0] as string;
    expect((await session.refresh(rt)).state.status).toBe('signed-in');
  });
});
