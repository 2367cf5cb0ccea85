/**
 * Red team (passkeys): a user's passkey failures are counted under `#passkey:<user id>` and address
 * (test/redteam/passkeys-shared-address-lockout.test.ts); `baton limits reset <user>` forgives
 * them too, as it does the user's password failures, so an administrator can let a user whose
 * passkey was blocked from an address in again without forgiving the whole address.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLoginProtection } from 'baton-auth/http';
import { createService, loadConfig, users } from 'baton-auth-server';

const CLI = new URL('../../packages/baton-auth-server/src/cli/main.ts', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'baton-rt-passkeys-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const A = '203.0.113.7';

const baton = (file: string, ...args: string[]) =>
  new Promise<{ code: number; stdout: string }>((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...process.env, BATON_STORE: `sqlite:${file}`, BATON_LOG_LEVEL: 'silent' } }, (err, stdout) =>
      resolve({ code: err ? Number((err as { code?: number }).code) : 0, stdout }),
    );
  });

describe('red team: baton limits reset <user> and passkeys', () => {
  it('forgives the user’s passkey failures from an address', async () => {
    const file = join(dir, 'baton.db');
    const service = await createService(loadConfig({ PORT: '0', BATON_STORE: `sqlite:${file}`, BATON_LOG_LEVEL: 'silent' }));
    try {
      const carol = await users.add(service.store, 'carol', 'carol password');
      const protection = createLoginProtection({ store: service.store, failures: { max: 3, blockMs: 3_600_000 }, failuresPerIp: false });
      for (let i = 0; i < 3; i++) await (await protection.check(`#passkey:${carol.id}`, A)).failed();
      expect((await protection.check(`#passkey:${carol.id}`, A)).retryAfterMs).toBeGreaterThan(0);
      expect(await baton(file, 'limits', 'reset', 'carol')).toEqual({ code: 0, stdout: 'Reset carol: 1 counter(s) deleted.\n' });
      expect((await protection.check(`#passkey:${carol.id}`, A)).retryAfterMs).toBe(0);
    } finally {
      await service.close();
    }
  }, 60_000);
});
