/**
 * `baton providers add | list | remove` (issue #27), as an administrator runs them, on a SQLite
 * store of their own, against a real `oidc-provider` for the issuer check: the client secret read
 * from a file, never printed and never in the store in the clear (sealed under the service secret);
 * a wrong issuer, a plain-http one off loopback, or an unreadable secret file each fail with a sentence.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baton } from '../support/baton-cli.ts';
import { startProvider } from '../support/oidc-provider.ts';
import type { StartedProvider } from '../support/oidc-provider.ts';

const SECRET = 'an-upstream-client-secret-nobody-may-see-0123456789';

describe('baton providers', () => {
  let dir: string;
  let env: Record<string, string>;
  let op: StartedProvider;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'baton-providers-cli-'));
    env = { BATON_STORE: `sqlite:${join(dir, 'baton.sqlite')}`, BATON_ISSUER: 'https://auth.example.com' };
    writeFileSync(join(dir, 'secret'), `${SECRET}\n`, { mode: 0o600 });
    op = await startProvider();
  });
  afterAll(async () => {
    await op?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('adds a provider after reading its discovery document; lists it; never prints or stores the secret in the clear', async () => {
    const add = await baton(
      ['providers', 'add', 'google', '--preset', 'google', '--issuer', op.issuer, '--client-id', 'baton', '--client-secret-file', join(dir, 'secret')],
      env,
    );
    expect(add.stderr).not.toMatch(/error/i);
    expect(add.code).toBe(0);
    expect(add.stdout).toContain('Added provider google (google): the sign-in pages show "Continue with Google" within 5 s.');
    expect(add.stdout).toContain('Register this redirect URI with the provider: https://auth.example.com/auth/providers/google/callback');
    const list = await baton(['providers', 'list'], env);
    expect(list.stdout).toContain(`google\tgoogle\t${op.issuer}\tbaton\tsecret set`);
    for (const run of [add, list]) expect(run.stdout + run.stderr).not.toContain(SECRET);
    for (const file of ['baton.sqlite', 'baton.sqlite-wal'].map((f) => join(dir, f)).filter(existsSync))
      expect(readFileSync(file).includes(Buffer.from(SECRET)), `${file} holds the secret in the clear`).toBe(false);
    const again = await baton(['providers', 'add', 'google', '--issuer', op.issuer, '--client-id', 'baton'], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('The provider google already exists (remove it first to change it).');
  });

  it('a bad issuer fails with a sentence, and adds nothing', async () => {
    const cases: [string[], string][] = [
      [
        ['--issuer', 'http://127.0.0.1:9'],
        'No OpenID Connect provider answers at http://127.0.0.1:9: http://127.0.0.1:9/.well-known/openid-configuration could not be read',
      ],
      [['--issuer', 'http://accounts.example.com'], 'is plain http: a provider must be reached over https'],
      [['--issuer', 'not a url'], 'The issuer must be an https URL'],
      [[], 'A provider without a preset needs its issuer URL'],
      [['--issuer', op.issuer, '--client-secret-file', join(dir, 'missing')], `The client secret file ${join(dir, 'missing')} cannot be read (ENOENT).`],
      [['--preset', 'okta'], '--preset is one of google, microsoft, apple, github, not okta.'],
    ];
    for (const [args, sentence] of cases) {
      const run = await baton(['providers', 'add', 'acme', '--client-id', 'x', ...args], env);
      expect(run.code, args.join(' ')).toBe(1);
      expect(run.stderr).toContain(sentence);
    }
    expect((await baton(['providers', 'list'], env)).stdout).not.toContain('acme');
  });

  it('removes a provider; removing it again says there is none', async () => {
    const removed = await baton(['providers', 'remove', 'google'], env);
    expect(removed.stdout).toContain('Removed google.');
    const none = await baton(['providers', 'remove', 'google'], env);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('There is no provider google.');
    expect((await baton(['providers', 'list'], env)).stdout).toContain('No providers.');
  });
});
