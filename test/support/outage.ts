/**
 * Every endpoint of a running service while its store is away (#22): each answer's status and
 * whether it carries Retry-After, by endpoint, for a test to compare with "503 Retry-After".
 */

/** Signs `username` in, cuts the store off with `cut`, then calls every endpoint that needs the store once. */
export async function endpointsWhileAway(o: { url: string; username: string; password: string; introspectionSecret: string; cut: () => Promise<void> }): Promise<Record<string, string>> {
  const form = (fields: Record<string, string>, headers: Record<string, string> = {}): RequestInit => ({ method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(fields) });
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
export const ALL_503 = Object.fromEntries(['login', 'login, wrong password', 'refresh', 'revoke', 'introspect', 'logout', 'sessions', 'history', 'revocation feed'].map((name) => [name, '503 Retry-After']));
