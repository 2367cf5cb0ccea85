/**
 * #22: a logout in one Node process is reported to another sharing the token file as
 * `signed_out_elsewhere` (the README says "another tab or process"); before, the other got
 * `ERR_NOT_SIGNED_IN` on every call and no `sessionEnded`.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTokenClient, SessionEndedError } from 'baton-auth-client';
import type { SessionEnd } from 'baton-auth-client';
import { fileStorage } from 'baton-auth-client/node';
import { startTestService } from '../support/service.ts';
import type { TestService } from '../support/service.ts';

const WORKER = new URL('../fixtures/logout-worker.ts', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'baton-elsewhere-'));
let service: TestService;
beforeAll(async () => {
  service = await startTestService({});
});
afterAll(async () => {
  await service?.stop();
  rmSync(dir, { recursive: true, force: true });
});

it("a logout in another process ends this one's session with signed_out_elsewhere, once; then it is simply not signed in", async () => {
  const file = join(dir, 'tokens.json');
  const client = createTokenClient({ issuer: service.url, storage: fileStorage(file), dpop: false });
  const ends: SessionEnd[] = [];
  client.on('sessionEnded', (end) => void ends.push(end));
  await client.setTokens(await service.login());
  expect(await client.getAccessToken()).toBeTruthy();
  const { stdout } = await promisify(execFile)(process.execPath, [WORKER], { env: { ...process.env, ISSUER: service.url, TOKEN_FILE: file } });
  expect(stdout).toBe('logged out');
  const first = await client.getAccessToken().catch((err: unknown) => err);
  expect(first).toBeInstanceOf(SessionEndedError);
  expect(first).toMatchObject({ code: 'ERR_SESSION_ENDED', sessionEnd: { reason: 'signed_out_elsewhere' } });
  expect(ends).toEqual([{ reason: 'signed_out_elsewhere' }]);
  // Told once: afterwards it is a client with no session.
  await expect(client.getAccessToken()).rejects.toMatchObject({ code: 'ERR_NOT_SIGNED_IN' });
  expect(ends).toHaveLength(1);
});
