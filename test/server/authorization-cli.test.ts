/**
 * The authorization server from the command line: `baton serve` starts with the new settings and
 * refuses a bad one with a sentence; `baton clients add` takes the code flow's flags, `list` and
 * `show` print the redirect URIs, and a bad URI is a sentence with the exit code of a bad argument.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { baton, serve } from '../support/baton-cli.ts';
import { eventually } from '../support/eventually.ts';
import { playBrowser } from '../support/form-browser.ts';

const root = mkdtempSync(join(tmpdir(), 'baton-authz-cli-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const env: Record<string, string> = {
  BATON_STORE: `sqlite:${join(root, 'baton.sqlite')}`,
  BATON_RUNTIME_FILE: join(root, 'baton-service.json'),
  BATON_COOKIE_SECURE: 'false',
  BATON_LOG_LEVEL: 'silent',
  BATON_PAGE_TITLE: 'Acme sign-in',
  BATON_PAGE_LOGO: 'https://cdn.acme.example/logo.svg',
  BATON_PAGE_THEME: '--baton-accent:#0a7;--baton-radius:8px',
  BATON_CLIENT_REGISTRATION: 'open',
  BATON_CLIENT_REGISTRATION_MAX: '10',
  BATON_CLIENT_METADATA_HOSTS: 'apps.acme.example',
};

describe('baton serve with the authorization settings', () => {
  it('starts with them, and clients add / list / show carry the code flow', async () => {
    const service = await serve(env);
    try {
      const meta = await (await fetch(`${service.url}/.well-known/oauth-authorization-server`)).json();
      expect(meta.registration_endpoint).toBe(`${service.url}/oauth/register`);

      const added = await baton(
        [
          'clients',
          'add',
          'web',
          '--redirect-uri',
          'https://app.acme.example/cb',
          '--redirect-uri',
          'http://127.0.0.1/cb',
          '--post-logout-redirect-uri',
          'https://app.acme.example/bye',
          '--first-party',
          '--par',
          '--name',
          'Acme web',
        ],
        env,
      );
      expect(added.code, added.stderr).toBe(0);
      expect(added.stdout).toContain('Redirect URIs: https://app.acme.example/cb http://127.0.0.1/cb');

      const list = await baton(['clients', 'list'], env);
      expect(list.stdout).toMatch(/^web\tpublic, first-party, PAR required\t.*\thttps:\/\/app\.acme\.example\/cb http:\/\/127\.0\.0\.1\/cb$/m);

      const show = await baton(['clients', 'show', 'web'], env);
      expect(show.code).toBe(0);
      expect(show.stdout).toMatch(/^name: +Acme web$/m);
      expect(show.stdout).toMatch(/^redirect URIs: +https:\/\/app\.acme\.example\/cb\n +http:\/\/127\.0\.0\.1\/cb$/m);
      expect(show.stdout).toMatch(/^logout URIs: +https:\/\/app\.acme\.example\/bye$/m);

      const missing = await baton(['clients', 'show', 'nobody'], env);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain('There is no client nobody.');
    } finally {
      await service.stop();
    }
  }, 60_000);

  it('clients add --confidential --redirect-uri: its secret printed once; its code redeemed only with that secret (client_secret_basic)', async () => {
    const service = await serve(env);
    try {
      expect((await baton(['users', 'add', 'cora', '--password-stdin', '--scopes', 'profile'], env, 'cora password 1')).code).toBe(0);
      const cb = 'https://partner.acme.example/cb';
      const added = await baton(['clients', 'add', 'partner', '--confidential', '--redirect-uri', cb, '--scopes', 'openid profile', '--first-party'], env);
      expect(added.code, added.stderr).toBe(0);
      const secret = /Its secret, shown only now:\n(\S+)/.exec(added.stdout)?.[1] as string;
      expect(secret).toMatch(/^.{32,}$/);
      expect((await baton(['clients', 'show', 'partner'], env)).stdout).not.toContain(secret);

      const verifier = randomBytes(32).toString('base64url');
      const challenge = createHash('sha256').update(verifier).digest('base64url');
      const authorize = `${service.url}/oauth/authorize?${new URLSearchParams({
        response_type: 'code',
        client_id: 'partner',
        redirect_uri: cb,
        scope: 'openid profile',
        state: 's1',
        code_challenge: challenge,
        code_challenge_method: 'S256',
      })}`;
      // The user signs in on the hosted page (a client added a moment ago: the service's client cache is 5 s).
      let back = '';
      await eventually(
        async () => {
          back = await playBrowser(authorize, { username: 'cora', password: 'cora password 1' }, (u) => u.startsWith(cb)).catch(() => '');
          return back !== '';
        },
        { what: 'the hosted sign-in to know the new client', timeoutMs: 15_000, intervalMs: 500 },
      );
      const code = new URL(back).searchParams.get('code') as string;
      const redeem = (authorization?: string) =>
        fetch(`${service.url}/oauth/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', ...(authorization === undefined ? {} : { authorization }) },
          body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: cb, code_verifier: verifier, client_id: 'partner' }),
        });
      const basic = (s: string) => `Basic ${Buffer.from(`partner:${s}`).toString('base64')}`;
      // Without its secret, or with another, the code buys nothing (RFC 6749 §4.1.3: a confidential client authenticates).
      const none = await redeem();
      expect([none.status, (await none.json()).error]).toEqual([401, 'invalid_client']);
      const wrong = await redeem(basic(`${secret}x`));
      expect([wrong.status, (await wrong.json()).error]).toEqual([401, 'invalid_client']);
      const ok = await redeem(basic(secret));
      const tokens = await ok.json();
      expect(ok.status, JSON.stringify(tokens)).toBe(200);
      expect(tokens).toMatchObject({ token_type: expect.stringMatching(/^(Bearer|DPoP)$/), refresh_token: expect.any(String), id_token: expect.any(String) });
    } finally {
      await service.stop();
    }
  }, 90_000);

  it.each([
    ['javascript:alert(1)', /--redirect-uri: "javascript:alert\(1\)" is not a valid redirect URI/],
    ['http://app.acme.example/cb', /plain http is allowed only to a loopback host/],
    ['https://app.acme.example/cb#top', /fragment/],
  ])(
    'clients add --redirect-uri %s is refused with a sentence, exit 1, nothing kept',
    async (uri, sentence) => {
      const run = await baton(['clients', 'add', 'bad-client', '--redirect-uri', uri], env);
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(sentence);
      expect((await baton(['clients', 'list'], env)).stdout).not.toContain('bad-client');
    },
    30_000,
  );

  it('a bad setting stops the start with a sentence naming it', async () => {
    for (const [name, value, sentence] of [
      ['BATON_PAGE_THEME', 'color:red', /BATON_PAGE_THEME must be CSS variables/],
      ['BATON_CLIENT_REGISTRATION', 'yes', /BATON_CLIENT_REGISTRATION must be 'off' or 'open'/],
      ['BATON_CLIENT_METADATA_HOSTS', '*.acme.example', /wildcards are not allowed/],
    ] as const) {
      const started = serve({ ...env, [name]: value });
      await expect(started).rejects.toThrow(sentence);
    }
  }, 60_000);
});
