/**
 * The one settings table (`settings.ts`): it is the schema, `serve --help` and docs/configuration.md;
 * its defaults are the real ones; every duration reads `1d`; the library and the service refuse
 * the same bad scope, resource or cookie setting with the same sentence; a bad value of any
 * variable is a BatonError, never a plain Error.
 */
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createBaton, generateKey, isBatonError } from 'baton-auth';
import { createAuthHandler, staticClients } from 'baton-auth/http';
import { memoryStore } from 'baton-auth/stores/memory';
import { loadConfig } from '../../packages/baton-auth-server/src/server/config.ts';
import { configurationReference, SETTINGS_TABLE } from '../../packages/baton-auth-server/src/server/settings.ts';
import { baton } from '../support/baton-cli.ts';

const DOC = new URL('../../docs/configuration.md', import.meta.url);

/** The message `make` throws (it must throw a BatonError). */
function refusal(make: () => unknown): string {
  try {
    make();
  } catch (err) {
    expect(isBatonError(err)).toBe(true);
    return (err as Error).message;
  }
  throw new Error('expected a refusal');
}

describe('the settings table', () => {
  it('docs/configuration.md is the table as `npm run docs:config` writes it, and names every setting', () => {
    const doc = readFileSync(DOC, 'utf8');
    expect(doc, 'docs/configuration.md is stale: run `npm run docs:config`').toBe(configurationReference());
    for (const s of SETTINGS_TABLE) expect(doc).toContain(`| \`${s.env}\` | \`${s.option}\` |`);
  });

  it('serve --help names every setting with its default', async () => {
    const help = (await baton(['serve', '--help'], {})).stdout;
    for (const s of SETTINGS_TABLE) expect(help).toMatch(new RegExp(`^  ${s.env} +.*\\(default: `, 'm'));
  });

  it('each written default is the real one: giving it changes nothing', () => {
    const base = loadConfig({});
    for (const s of SETTINGS_TABLE.filter((row) => row.parse !== undefined && row.default !== undefined)) {
      expect([s.env, loadConfig({ [s.env]: s.default as string })]).toEqual([s.env, base]);
    }
  });

  it('every duration reads 1d, BATON_REFRESH_RATE included (it refused it)', () => {
    expect(loadConfig({ BATON_REFRESH_RATE: '1000/1d' }).refreshRateLimit).toEqual({ max: 1000, window: '1d' });
    expect(loadConfig({ BATON_REFRESH_RATE: '5/90' }).refreshRateLimit).toEqual({ max: 5, window: '90s' });
    expect(loadConfig({ BATON_LOGIN_FAILURES: '3/1d' }).loginFailures).toEqual({ max: 3, blockMs: 86_400_000 });
    expect(loadConfig({ BATON_ACCESS_TTL: '1d', BATON_REFRESH_TTL: '2d' }).accessTokenTtl).toBe('1d');
    expect(() => loadConfig({ BATON_REFRESH_RATE: '0/1m' })).toThrow(/BATON_REFRESH_RATE must be 'off' or refreshes per window/);
    expect(() => loadConfig({ BATON_REFRESH_RATE: '30/soon' })).toThrow(/BATON_REFRESH_RATE must be 'off'/);
  });

  it('BATON_KEY_RELOAD of 0 or past 24d is refused: Node runs such a timer every millisecond, a store read each (red team)', () => {
    for (const v of ['0', '0s', '25d', '30d', '1y'])
      expect(() => loadConfig({ BATON_KEY_RELOAD: v }), v).toThrow(/BATON_KEY_RELOAD must be a duration from 1s to 24d/);
    for (const v of ['1', '30s', '24d']) expect(loadConfig({ BATON_KEY_RELOAD: v }).keyReload).toBe(v === '1' ? '1s' : v);
  });

  it('a per-window setting with a window of 0 is refused: BATON_REFRESH_RATE=30/0 turned the refresh rate limit off (red team)', () => {
    for (const name of ['BATON_REFRESH_RATE', 'BATON_LOGIN_FAILURES', 'BATON_LOGIN_FAILURES_PER_IP']) {
      for (const v of ['30/0', '30/0s', '30/0m'])
        expect(() => loadConfig({ [name]: v }), `${name}=${v}`).toThrow(new RegExp(`${name} must be 'off' or .*, with a duration of at least 1s`));
    }
    expect(loadConfig({ BATON_REFRESH_RATE: '30/1' }).refreshRateLimit).toEqual({ max: 30, window: '1s' });
  });

  it('the library and the service refuse the same bad scope, resource and insecure cookie with the same sentence', () => {
    const b = createBaton({ issuer: 'https://auth.test', keys: [generateKey('HS256')], refreshTokenSecret: randomBytes(32), store: memoryStore() });
    const handler = (o: object) => createAuthHandler({ baton: b, authenticate: async () => null, ...o });
    const same = (library: string, libraryName: string, service: string, serviceName: string): void => {
      expect(service).toBe(`Configuration error: ${library.replace(libraryName, serviceName)} (${serviceName}).`);
    };
    for (const scope of ['a"b', 'caf\u00e9', 'x\\y']) {
      same(
        refusal(() => handler({ scopes: [scope] })),
        'createAuthHandler: scopes',
        refusal(() => loadConfig({ BATON_SCOPES: scope })),
        'BATON_SCOPES',
      );
      expect(refusal(() => staticClients([{ id: 'web', scopes: [scope] }]))).toBe(
        refusal(() => handler({ scopes: [scope] })).replace('createAuthHandler: scopes', 'The scopes of client web'),
      );
    }
    for (const resource of ['api.example.com', 'https://api.example.com/#x', '/relative']) {
      same(
        refusal(() => handler({ resources: [resource] })),
        'createAuthHandler: resources',
        refusal(() => loadConfig({ BATON_RESOURCES: resource })),
        'BATON_RESOURCES',
      );
    }
    for (const issuer of ['https://auth.example.com', 'http://auth.example.com', 'http://10.0.0.1:3000']) {
      const library = refusal(() => handler({ issuer, cookie: { secure: false } }));
      const service = refusal(() => loadConfig({ BATON_ISSUER: issuer, BATON_COOKIE_SECURE: 'false' }));
      expect(service).toBe(library.replace('createAuthHandler: cookie.secure', 'BATON_COOKIE_SECURE'));
    }
    // Loopback is allowed by both.
    expect(() => handler({ issuer: 'http://127.0.0.1:3000', cookie: { secure: false } })).not.toThrow();
    expect(loadConfig({ BATON_ISSUER: 'http://[::1]:3000', BATON_COOKIE_SECURE: 'false' }).cookieSecure).toBe(false);
  });

  it('a bad value of any variable is a BatonError with a sentence, never a plain Error', () => {
    const values = fc.constantFrom(
      '',
      ' ',
      'x',
      '-1',
      '0',
      '1.5',
      'NaN',
      '1d',
      '-5m',
      'off',
      '0/1m',
      '1/0',
      'auto',
      'false',
      '65536',
      'http://a#b',
      'redis://a@b@c',
      '9'.repeat(20),
    );
    fc.assert(
      fc.property(fc.constantFrom(...SETTINGS_TABLE.filter((s) => s.parse !== undefined).map((s) => s.env)), values, (name, value) => {
        try {
          loadConfig({ BATON_STORE: 'memory:', [name]: value });
        } catch (err) {
          expect(isBatonError(err), `${name}=${value}: ${(err as Error).message}`).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });
});
