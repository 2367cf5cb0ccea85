/**
 * The Python examples (`examples/python/`) against the running service, as a FastAPI user runs
 * them: Debian's python3-jwt, python3-fastapi, python3-uvicorn and python3-httpx under
 * /usr/bin/python3 (installed by `.ci/run`, which sets BATON_REQUIRE_PYTHON=1; elsewhere the
 * suites are skipped, saying why, when the modules are missing).
 *
 * PyJWT through PyJWKClient, for each algorithm the service signs with: a token for this API
 * passes; a token for another audience, a `typ: JWT` token signed with the service's own key, and
 * no token at all are refused as RFC 6750 says. Introspection: a revoked token is refused once the
 * short cache lapses.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { SignJWT } from 'jose';
import { afterEach, expect, it } from 'vitest';
import { describeWith } from '../support/machine.ts';
import type { MachinePackage } from '../support/machine.ts';
import { freePort } from '../support/ports.ts';
import { startTestService } from '../support/service.ts';
import type { TestService } from '../support/service.ts';

const PYTHON = '/usr/bin/python3';
const EXAMPLES = new URL('../../examples/python/', import.meta.url).pathname;
const API = 'https://orders.api.test';
const RS_SECRET = 'resource-server-secret-of-32-characters-at-least';
const MODULES = ['jwt', 'fastapi', 'uvicorn', 'httpx'];
/** Debian's python3-jwt, -fastapi, -uvicorn and -httpx: required under CI or BATON_REQUIRE_PYTHON=1. */
const python: MachinePackage = {
  found: spawnSync(PYTHON, ['-c', `import ${MODULES.join(', ')}`], { stdio: 'ignore' }).status === 0,
  missing: `${PYTHON} cannot import ${MODULES.join(', ')}: install Debian's with \`apt-get install -y python3-jwt python3-fastapi python3-uvicorn python3-httpx\``,
  requireVar: 'BATON_REQUIRE_PYTHON',
};
const FILE = 'test/interop/python.test.ts';
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Starts `module:app` with uvicorn and resolves its URL once it answers. */
async function uvicorn(module: string, env: Record<string, string>): Promise<string> {
  const port = await freePort();
  const child: ChildProcess = spawn(PYTHON, ['-m', 'uvicorn', `${module}:app`, '--host', '127.0.0.1', '--port', String(port), '--log-level', 'warning'], {
    cwd: EXAMPLES,
    env: { PATH: process.env.PATH ?? '', PYTHONDONTWRITEBYTECODE: '1', ...env },
  });
  let output = '';
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  cleanups.push(async () => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
  });
  const url = `http://127.0.0.1:${port}`;
  for (const end = Date.now() + 20_000; Date.now() < end;) {
    if (child.exitCode !== null) throw new Error(`${module} exited (${child.exitCode}); is python3-fastapi/uvicorn/jwt/httpx installed? ${output}`);
    try {
      await fetch(url);
      return url;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`${module} did not start within 20 s: ${output}`);
}

async function service(env: Record<string, string> = {}): Promise<TestService> {
  const s = await startTestService({ BATON_RESOURCES: API, BATON_INTROSPECTION_SECRET: RS_SECRET, ...env });
  cleanups.push(() => s.stop());
  return s;
}

async function login(s: TestService, resource?: string): Promise<{ access_token: string; refresh_token: string }> {
  const res = await fetch(`${s.url}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'tester', password: 'tester password 1', ...(resource ? { resource } : {}) }),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as never;
}

const get = (url: string, token?: string) => fetch(url, token ? { headers: { authorization: `Bearer ${token}` } } : {});

describeWith(python, 'FastAPI with PyJWT (examples/python/resource_server.py)', FILE, () => {
  it.each(['EdDSA', 'ES256', 'RS256'])(
    'verifies %s tokens for its audience and refuses the others',
    async (alg) => {
      const s = await service({ BATON_ALG: alg });
      const api = await uvicorn('resource_server', { BATON_ISSUER: s.url, API_AUDIENCE: API });

      const ok = await get(`${api}/orders`, (await login(s, API)).access_token);
      expect(ok.status).toBe(200);
      expect(await ok.json()).toMatchObject({ user: expect.stringMatching(/^usr_/), client: 'default' });

      // A token for the token service itself (no resource) is not one for this API.
      const other = await get(`${api}/orders`, (await login(s)).access_token);
      expect(other.status).toBe(401);
      expect(other.headers.get('www-authenticate')).toBe('Bearer realm="api", error="invalid_token"');

      // Signed by the service's own key, but typ JWT: PyJWT alone would accept it.
      const key = s.server.service.baton.keys.active('sig');
      if (key?.signKey === undefined) throw new Error('no signing key');
      const now = Math.floor(Date.now() / 1000);
      const plain = await new SignJWT({ client_id: 'default', jti: 'j1', sid: 's1' })
        .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
        .setIssuer(s.url)
        .setAudience(API)
        .setSubject('usr_x')
        .setIssuedAt(now)
        .setExpirationTime(now + 60)
        .sign(key.signKey);
      expect((await get(`${api}/orders`, plain)).status).toBe(401);
      const same = await new SignJWT({ client_id: 'default', jti: 'j2', sid: 's1' })
        .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt' })
        .setIssuer(s.url)
        .setAudience(API)
        .setSubject('usr_x')
        .setIssuedAt(now)
        .setExpirationTime(now + 60)
        .sign(key.signKey);
      expect((await get(`${api}/orders`, same)).status).toBe(200); // the control: only typ differed

      const none = await get(`${api}/orders`);
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toBe('Bearer realm="api"');
      const scope = await get(`${api}/reports`, (await login(s, API)).access_token);
      expect(scope.status).toBe(403);
      expect(await scope.json()).toMatchObject({ error: 'insufficient_scope' });
    },
    60_000,
  );
});

describeWith(python, 'FastAPI with introspection (examples/python/introspection_server.py)', FILE, () => {
  it('accepts an active token for its audience and refuses it once revoked', async () => {
    const s = await service();
    const api = await uvicorn('introspection_server', {
      BATON_ISSUER: s.url,
      API_AUDIENCE: API,
      INTROSPECTION_CLIENT: 'resource-server',
      INTROSPECTION_SECRET: RS_SECRET,
      INTROSPECTION_CACHE_SECONDS: '0.2',
    });
    const pair = await login(s, API);
    expect((await get(`${api}/orders`, pair.access_token)).status).toBe(200);
    expect((await get(`${api}/orders`, (await login(s)).access_token)).status).toBe(401); // another audience
    const logout = await fetch(`${s.url}/oauth/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `token=${pair.refresh_token}`,
    });
    expect(logout.status).toBe(200);
    await new Promise((r) => setTimeout(r, 300));
    const after = await get(`${api}/orders`, pair.access_token);
    expect(after.status).toBe(401);
    expect(await after.json()).toEqual({ error: 'invalid_token', error_description: 'The access token is invalid' });
  }, 60_000);
});
