/**
 * The signed-in user's own endpoints as the web page reads them, on the running service: the
 * username in `/auth/me`, devices named from their user agents, the DPoP nonce before a sign-in
 * (`HEAD /auth/login`) — and a user never sees, nor signs out, another user's sessions.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, startServer, users } from 'baton-auth-server';
import { dpopKey, dpopProof } from '../support/dpop.ts';

const FIREFOX_WINDOWS = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0';
const CHROME_LINUX = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const SAFARI_IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1';

interface Pair {
  access_token: string;
  session_id: string;
}

describe("the signed-in user's own endpoints", () => {
  let server: Awaited<ReturnType<typeof startServer>>;
  const login = async (username: string, password: string, userAgent = 'curl/8.5.0'): Promise<Pair> => {
    const res = await fetch(`${server.url}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': userAgent },
      body: JSON.stringify({ username, password }),
    });
    expect(res.status).toBe(200);
    return res.json() as Promise<Pair>;
  };
  const get = async (path: string, pair: Pair) => fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${pair.access_token}` } });
  beforeAll(async () => {
    server = await startServer(loadConfig({ PORT: '0', BATON_STORE: 'memory:', BATON_LOG_LEVEL: 'silent' }));
    await users.add(server.service.store, 'Alice', 'correct horse battery');
    await users.add(server.service.store, 'carol', 'carol battery staple');
  });
  afterAll(() => server?.stop());

  it('/auth/me gives the username beside the user id; users added before the index get one at start-up', async () => {
    const alice = await login('alice', 'correct horse battery');
    const me = await (await get('/auth/me', alice)).json();
    expect(me).toMatchObject({ sub: expect.stringMatching(/^usr_/), username: 'Alice', sid: alice.session_id, client_id: 'default' });
    // A user from before the index (its entry gone): the start-up fills it in.
    const carol = (await users.get(server.service.store, 'carol'))?.id as string;
    await server.service.store.deleteRecord('user_names', carol);
    expect(await users.nameOf(server.service.store, carol)).toBeUndefined();
    expect(await users.indexNames(server.service.store)).toBe(1);
    expect(await users.nameOf(server.service.store, carol)).toBe('carol');
    // A removed user's entry goes with it.
    const dave = await users.add(server.service.store, 'dave', 'dave battery staple');
    await users.remove(server.service.store, 'dave');
    expect(await users.nameOf(server.service.store, dave.id)).toBeUndefined();
  });

  it('names each device from its user agent, beside the recorded fields', async () => {
    const firefox = await login('alice', 'correct horse battery', FIREFOX_WINDOWS);
    await login('alice', 'correct horse battery', CHROME_LINUX);
    await login('alice', 'correct horse battery', SAFARI_IPHONE);
    const { sessions } = (await (await get('/auth/sessions', firefox)).json()) as { sessions: { current: boolean; device: Record<string, string> }[] };
    const devices = sessions.map((s) => s.device);
    // `method`: how the session was signed in to (a password here; `provider` with its name after another provider).
    expect(devices).toContainEqual({
      userAgent: FIREFOX_WINDOWS,
      ip: '127.0.0.1',
      browser: 'Firefox 133',
      os: 'Windows',
      name: 'Firefox 133 on Windows',
      method: 'password',
    });
    expect(devices).toContainEqual({
      userAgent: CHROME_LINUX,
      ip: '127.0.0.1',
      browser: 'Chrome 131',
      os: 'Linux',
      name: 'Chrome 131 on Linux',
      method: 'password',
    });
    expect(devices).toContainEqual(expect.objectContaining({ name: 'Safari 18 on iOS' }));
    expect(devices).toContainEqual(expect.objectContaining({ userAgent: 'curl/8.5.0', browser: 'curl 8', name: 'curl 8' }));
    expect(sessions.find((s) => s.current)?.device.name).toBe('Firefox 133 on Windows');
    // The history names them the same way.
    const { events } = (await (await get('/auth/sessions/history', firefox)).json()) as { events: { type: string; device: Record<string, string> }[] };
    expect(events.filter((e) => e.type === 'session.created').map((e) => e.device.name)).toEqual(
      expect.arrayContaining(['Firefox 133 on Windows', 'Chrome 131 on Linux', 'Safari 18 on iOS']),
    );
  });

  it("a user never sees, nor signs out, another user's sessions", async () => {
    const alice = await login('alice', 'correct horse battery', CHROME_LINUX);
    const carol = await login('carol', 'carol battery staple', FIREFOX_WINDOWS);
    const aliceIds = new Set(((await (await get('/auth/sessions', alice)).json()) as { sessions: { id: string }[] }).sessions.map((s) => s.id));
    expect(aliceIds.size).toBeGreaterThan(1);
    const { sessions } = (await (await get('/auth/sessions', carol)).json()) as { sessions: { id: string }[] };
    expect(sessions.map((s) => s.id)).toEqual([carol.session_id]);
    const { events } = (await (await get('/auth/sessions/history', carol)).json()) as { events: { session_id: string }[] };
    expect(events.length).toBeGreaterThan(0);
    expect(new Set(events.map((e) => e.session_id))).toEqual(new Set([carol.session_id]));
    // Signing out one of alice's sessions with carol's token: 404, and alice's session goes on.
    const kick = await fetch(`${server.url}/auth/sessions/${encodeURIComponent(alice.session_id)}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${carol.access_token}` },
    });
    expect(kick.status).toBe(404);
    expect((await get('/auth/me', alice)).status).toBe(200);
    expect(await (await get('/auth/me', carol)).json()).toMatchObject({ username: 'carol' });
  });

  it('HEAD /auth/login gives the DPoP nonce (204), so a sign-in with a proof is one request (RFC 9449 §8.2)', async () => {
    const head = await fetch(`${server.url}/auth/login`, { method: 'HEAD' });
    expect(head.status).toBe(204);
    expect(head.headers.get('cache-control')).toBe('no-store');
    const nonce = head.headers.get('dpop-nonce');
    expect(nonce).toMatch(/^[\w-]{16,}$/);
    const key = await dpopKey();
    const url = `${server.url}/auth/login`;
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', dpop: await dpopProof(key, 'POST', url, { nonce: nonce as string }) },
      body: JSON.stringify({ username: 'alice', password: 'correct horse battery' }),
    });
    expect(res.status).toBe(200);
    expect((await res.json()).token_type).toBe('DPoP');
    // The other methods are still refused, and say which ones there are.
    const put = await fetch(url, { method: 'PUT' });
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toMatch(/^HEAD, POST\b/);
  });
});
