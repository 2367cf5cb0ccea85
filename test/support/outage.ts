/**
 * Store outages a test can cause (#22): a service on its own PostgreSQL database reached through a
 * TCP proxy the test cuts or stalls (the shared server cannot be stopped); and every endpoint of a
 * running service while its store is away, each answer's status and whether it carries
 * Retry-After, for a test to compare with "503 Retry-After".
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import { loadConfig, startServer, users } from 'baton-auth-server';
import { useTestDatabase } from './postgres-db.ts';
import { startProxy } from './tcp-proxy.ts';
import type { TcpProxy } from './tcp-proxy.ts';

/**
 * `baton serve` (in this process) on the test's own database `name`, through a TCP proxy, with the
 * user paula ('paula password 1'); `env` adds settings. Set up before the file's tests, torn down after.
 */
export function postgresBehindProxy(name: string, env: Record<string, string> = {}): { proxy: TcpProxy; server: Awaited<ReturnType<typeof startServer>> } {
  const database = useTestDatabase(name);
  const it = {} as { proxy: TcpProxy; server: Awaited<ReturnType<typeof startServer>> };
  beforeAll(async () => {
    it.proxy = await startProxy(5432);
    const url = new URL(database);
    url.port = String(it.proxy.port);
    it.server = await startServer(
      loadConfig({ PORT: '0', BATON_STORE: url.toString(), BATON_SECRET: randomBytes(32).toString('base64url'), BATON_LOG_LEVEL: 'silent', ...env }),
    );
    await users.add(it.server.service.store, 'paula', 'paula password 1');
  }, 60_000);
  afterAll(async () => {
    it.proxy?.resume();
    await it.server?.stop().catch(() => undefined);
    await it.proxy?.close();
  });
  return it;
}

/** Signs `username` in, cuts the store off with `cut`, then calls every endpoint that needs the store once. */
export async function endpointsWhileAway(o: {
  url: string;
  username: string;
  password: string;
  introspectionSecret: string;
  cut: () => Promise<void>;
}): Promise<Record<string, string>> {
  const form = (fields: Record<string, string>, headers: Record<string, string> = {}): RequestInit => ({
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(fields),
  });
  const login = (password: string) => fetch(`${o.url}/auth/login`, form({ username: o.username, password }));
  const pair = (await (await login(o.password)).json()) as { access_token: string; refresh_token: string };
  const bearer = { authorization: `Bearer ${pair.access_token}` };
  const basic = { authorization: `Basic ${Buffer.from(`resource-server:${o.introspectionSecret}`).toString('base64')}` };
  await o.cut();
  const calls: [string, () => Promise<Response>][] = [
    ['login', () => login(o.password)],
    ['login, wrong password', () => login('wrong guess')],
    ['refresh', () => fetch(`${o.url}/oauth/token`, form({ grant_type: 'refresh_token', refresh_token: pair.refresh_token }))],
    ['revoke', () => fetch(`${o.url}/oauth/revoke`, form({ token: pair.refresh_token }))],
    ['introspect', () => fetch(`${o.url}/oauth/introspect`, form({ token: pair.access_token }, basic))],
    ['logout', () => fetch(`${o.url}/auth/logout`, { method: 'POST', headers: bearer })],
    ['sessions', () => fetch(`${o.url}/auth/sessions`, { headers: bearer })],
    ['history', () => fetch(`${o.url}/auth/sessions/history`, { headers: bearer })],
    ['revocation feed', () => fetch(`${o.url}/oauth/revocations`, { headers: basic })],
  ];
  const answers: Record<string, string> = {};
  for (const [name, call] of calls) {
    const res = await call();
    answers[name] = `${res.status} ${res.headers.get('retry-after') === null ? 'no Retry-After' : 'Retry-After'}`;
  }
  return answers;
}

/** What `endpointsWhileAway` answers when every endpoint is right: 503 with Retry-After, never 500. */
export const ALL_503 = Object.fromEntries(
  ['login', 'login, wrong password', 'refresh', 'revoke', 'introspect', 'logout', 'sessions', 'history', 'revocation feed'].map((name) => [
    name,
    '503 Retry-After',
  ]),
);
