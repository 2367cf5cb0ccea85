/**
 * The published shape: every subpath of the `exports` map imports from the built package, by
 * name, in a fresh Node process; publint finds nothing to fix.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { publint } from 'publint';
import { describe, expect, it } from 'vitest';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { exports: Record<string, unknown> };
const root = new URL('..', import.meta.url).pathname;

describe('package exports', () => {
  it('imports every subpath by name from dist', () => {
    const subpaths = Object.keys(pkg.exports).filter((p) => !p.endsWith('.json'));
    const script = `const names = {}; for (const p of ${JSON.stringify(subpaths)}) { const m = await import(p === '.' ? 'baton' : 'baton/' + p.slice(2)); names[p] = Object.keys(m).sort(); } console.log(JSON.stringify(names));`;
    const out = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' })) as Record<string, string[]>;
    expect(out['.']).toEqual(expect.arrayContaining(['createBaton', 'generateKey', 'KeyRing', 'BatonError', 'isBatonError']));
    expect(out['./errors']).toEqual(expect.arrayContaining(['BatonError', 'BatonConfigError', 'isBatonError']));
    expect(out['./stores/memory']).toEqual(['memoryStore']);
    expect(out['./stores/sqlite']).toEqual(['sqliteStore']);
    expect(out['./stores/redis']).toEqual(['redisStore']);
    expect(out['./stores/postgres']).toEqual(['postgresClient', 'postgresStore']);
    expect(out['./stores/testing']).toEqual(expect.arrayContaining(['runStoreConformance']));
    expect(out['./http']).toEqual(['StoreRateLimiter', 'checkClientSecret', 'createAuthHandler', 'createLoginProtection', 'generateClientSecret', 'hashClientSecret', 'staticClients']);
    expect(out['./adapters/node']).toEqual(['toNodeListener', 'toWebRequest', 'writeResponse']);
    for (const f of ['express', 'fastify', 'hono']) expect(out[`./adapters/${f}`], f).toEqual(expect.arrayContaining(['autoRefresh', 'requireAuth']));
    expect(out['./client']).toEqual(expect.arrayContaining(['createTokenClient', 'memoryStorage', 'browserStorage', 'axiosInterceptors', 'SessionExpiredError']));
    expect(out['./client/node']).toEqual(['fileStorage', 'redisTokenStorage']);
    for (const p of subpaths) expect(out[p]?.length, p).toBeGreaterThan(0);
  });

  it('passes publint', async () => {
    const { messages } = await publint({ pkgDir: root, level: 'warning' });
    expect(messages.map((m) => `${m.code} ${JSON.stringify(m.args)}`)).toEqual([]);
  });
});
