/**
 * The published shape of the three packages: every subpath of each `exports` map imports from the
 * built package (dist), by name, in a fresh Node process; publint finds nothing to fix.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { publint } from 'publint';
import { describe, expect, it } from 'vitest';

const root = new URL('..', import.meta.url).pathname;
const PACKAGES = ['baton-auth', 'baton-auth-client', 'baton-auth-server'];

/** The names each subpath of `name` exports, imported from dist (no source condition). */
function namesOf(name: string): Record<string, string[]> {
  const pkg = JSON.parse(readFileSync(`${root}packages/${name}/package.json`, 'utf8')) as { exports: Record<string, unknown> };
  const subpaths = Object.keys(pkg.exports).filter((p) => !p.endsWith('.json'));
  const script = `const names = {}; for (const p of ${JSON.stringify(subpaths)}) { const m = await import(p === '.' ? '${name}' : '${name}/' + p.slice(2)); names[p] = Object.keys(m).sort(); } console.log(JSON.stringify(names));`;
  const env = { ...process.env, NODE_OPTIONS: '' };
  return JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8', env })) as Record<string, string[]>;
}

describe('package exports', () => {
  it('baton-auth: every subpath imports by name from dist', () => {
    const out = namesOf('baton-auth');
    expect(out['.']).toEqual(expect.arrayContaining(['createBaton', 'generateKey', 'KeyRing', 'BatonError', 'isBatonError', 'parseScope']));
    expect(out['./errors']).toEqual(expect.arrayContaining(['BatonError', 'BatonConfigError', 'isBatonError']));
    expect(out['./stores/memory']).toEqual(['memoryStore']);
    expect(out['./stores/sqlite']).toEqual(['SQLITE_SCHEMA_VERSION', 'sqliteSchemaAt', 'sqliteSchemaOf', 'sqliteStore']);
    expect(out['./stores/redis']).toEqual(['redisStore']);
    expect(out['./stores/postgres']).toEqual(['postgresClient', 'postgresStore']);
    expect(out['./stores/testing']).toEqual(expect.arrayContaining(['runStoreConformance']));
    expect(out['./http']).toEqual(expect.arrayContaining(['createAuthHandler', 'createLoginProtection', 'sessionCookies', 'staticClients']));
    expect(out['./ssr']).toEqual(['createServerSession', 'fromOurPages', 'noStore']);
    expect(out['./next']).toEqual(['createBatonNext', 'noStore']);
    expect(out['./protocol']).toEqual(expect.arrayContaining(['parseSessionSnapshot']));
    expect(out['./adapters/node']).toEqual(['toNodeListener', 'toWebRequest', 'writeResponse']);
    // Exactly these: the 0.x aliases `batonRouter`, `batonPlugin` and `batonRoutes` are gone and stay gone.
    for (const f of ['express', 'fastify', 'hono']) expect(out[`./adapters/${f}`], f).toEqual(['autoRefresh', 'endpoints', 'requireAuth', 'resourceMetadata']);
    expect(out['./sveltekit']).toEqual(['batonEndpoints', 'batonLoad', 'batonSignIn', 'batonSignOut', 'createBatonHandle']);
    for (const [p, names] of Object.entries(out)) expect(names.length, p).toBeGreaterThan(0);
  });

  it('baton-auth-client and baton-auth-server: every subpath imports by name from dist', () => {
    const client = namesOf('baton-auth-client');
    expect(client['.']).toEqual(
      expect.arrayContaining([
        'createTokenClient',
        'memoryStorage',
        'browserStorage',
        'axiosInterceptors',
        'SessionEndedError',
        'NotSignedInError',
        'signInWithRedirect',
        'completeSignIn',
        'AuthorizationError',
      ]),
    );
    expect(client['./node']).toEqual(['fileStorage', 'openInSystemBrowser', 'redisTokenStorage', 'showAndOpen', 'signInWithBrowser']);
    expect(client['./react']).toEqual(['BatonSessionProvider', 'useAccessToken', 'useSession']);
    expect(namesOf('baton-auth-server')['.']).toEqual(expect.arrayContaining(['startServer', 'createService', 'loadConfig', 'users', 'clients']));
  });

  it.each(PACKAGES)('%s passes publint', async (name) => {
    const { messages } = await publint({ pkgDir: `${root}packages/${name}`, level: 'warning' });
    expect(messages.map((m) => `${m.code} ${JSON.stringify(m.args)}`)).toEqual([]);
  });
});
