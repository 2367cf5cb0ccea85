/**
 * The client's address on a real socket: the socket's unless BATON_TRUST_PROXY says which
 * proxies' X-Forwarded-For to believe; it feeds the login protection and the session's device.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig, startServer, users } from 'baton-auth-server';

let server: Awaited<ReturnType<typeof startServer>> | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
});

async function start(env: Record<string, string>) {
  server = await startServer(loadConfig({ PORT: '0', BATON_STORE: 'memory:', BATON_LOG_LEVEL: 'silent', BATON_LOGIN_FAILURES_PER_IP: '3/1d', ...env }));
  await users.add(server.service.store, 'alice', 'alice password');
  const { url } = server;
  return async (password: string, forwardedFor?: string) => {
    const res = await fetch(`${url}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(forwardedFor ? { 'x-forwarded-for': forwardedFor } : {}) },
      body: JSON.stringify({ username: 'alice', password }),
    });
    return { status: res.status, body: (await res.json()) as { session_id?: string } };
  };
}

describe('BATON_TRUST_PROXY', () => {
  it('by default believes no X-Forwarded-For: a blocked address cannot escape by sending one', async () => {
    const login = await start({});
    for (let i = 0; i < 3; i++) await login('wrong guess', `203.0.113.${i}`);
    expect((await login('alice password')).status).toBe(429);
    expect((await login('alice password', '198.51.100.4')).status).toBe(429);
  });

  for (const trust of ['1', '127.0.0.1/8', 'loopback']) {
    it(`with ${trust}, takes the client's address from X-Forwarded-For: the login protection and the session's device see it`, async () => {
      const login = await start({ BATON_TRUST_PROXY: trust });
      for (let i = 0; i < 3; i++) await login('wrong guess', '203.0.113.9');
      expect((await login('alice password', '203.0.113.9')).status).toBe(429);
      // A client's own forged entry comes before the proxy's: the proxy's wins.
      expect((await login('alice password', '198.51.100.4, 203.0.113.9')).status).toBe(429);
      const ok = await login('alice password', '198.51.100.4');
      expect(ok.status).toBe(200);
      const { service } = server as NonNullable<typeof server>;
      const [session] = await service.baton.listSessions((await users.get(service.store, 'alice'))?.id as string);
      expect(session?.device.ip).toBe('198.51.100.4');
      expect((await login('alice password')).status).toBe(200); // the proxy's own address is not blocked
    });
  }

  it("an X-Forwarded-For entry that is no address (up to the header's size, passed on by a trusted proxy) is not taken: the proxy's address stands for it (rt-page red team)", async () => {
    const login = await start({ BATON_TRUST_PROXY: 'loopback' });
    for (const junk of ['x'.repeat(8_000), '<script>alert(1)</script>', 'unknown']) {
      expect((await login('alice password', junk)).status).toBe(200);
    }
    const { service } = server as NonNullable<typeof server>;
    const sessions = await service.baton.listSessions((await users.get(service.store, 'alice'))?.id as string);
    expect(sessions.map((s) => s.device.ip)).toEqual(['127.0.0.1', '127.0.0.1', '127.0.0.1']);
  });

  it('explains a value it cannot use in a sentence', () => {
    expect(loadConfig({}).trustProxy).toBe(0);
    expect(loadConfig({ BATON_TRUST_PROXY: '2' }).trustProxy).toBe(2);
    expect(loadConfig({ BATON_TRUST_PROXY: '10.0.0.0/8, ::1' }).trustProxy).toEqual(['10.0.0.0/8', '::1']);
    expect(() => loadConfig({ BATON_TRUST_PROXY: 'true' })).toThrow(
      /^BATON_TRUST_PROXY must be a hop count \(e\.g\. 1\) or a comma-separated list .*invalid IP address: true/,
    );
    expect(() => loadConfig({ BATON_TRUST_PROXY: '10.0.0.0/99' })).toThrow(/BATON_TRUST_PROXY must be .*invalid range on address/);
  });
});
