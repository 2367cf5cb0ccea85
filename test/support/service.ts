/**
 * The standalone service on a free port with one user, for tests that drive it over HTTP.
 */
import { loadConfig, startServer, users } from 'baton-auth-server';

export interface TestService {
  server: Awaited<ReturnType<typeof startServer>>;
  url: string;
  /** Logs the test user in through POST /auth/login and returns the token response. */
  login(): Promise<{ access_token: string; refresh_token: string; session_id: string; expires_in: number }>;
  stop(): Promise<void>;
}

export async function startTestService(env: Record<string, string>, user = { username: 'tester', password: 'tester password 1' }): Promise<TestService> {
  const server = await startServer(loadConfig({ PORT: '0', BATON_STORE: 'memory:', BATON_LOG_LEVEL: 'silent', ...env }));
  await users.add(server.service.store, user.username, user.password);
  return {
    server,
    url: server.url,
    async login() {
      const res = await fetch(`${server.url}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(user) });
      if (res.status !== 200) throw new Error(`login failed with ${res.status}`);
      return res.json() as never;
    },
    stop: () => server.stop(),
  };
}
