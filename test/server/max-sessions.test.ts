/**
 * BATON_MAX_SESSIONS has a ceiling (MAX_SESSIONS_PER_USER): a login, the device list and "log out
 * everywhere" read all of a user's active sessions, so `0` (once "no limit", which let one account
 * hold 30,000 sessions whose reads stalled every other request) stops the service at start-up with
 * a sentence naming the ceiling.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { MAX_SESSIONS_PER_USER } from 'baton-auth';
import { loadConfig } from 'baton-auth-server';

const CLI = new URL('../../packages/baton-auth-server/src/cli/main.ts', import.meta.url).pathname;

/** `baton serve` on a free port and a memory store: what it printed when it listened, or when it exited. */
function serve(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, [CLI, 'serve'], {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', BATON_STORE: 'memory:', BATON_COOKIE_SECURE: 'false', BATON_LOG_LEVEL: 'silent', ...env },
  });
  let output = '';
  return new Promise((resolve) => {
    const read = (d: Buffer): void => {
      output += d;
      if (/listening on http/.test(output)) child.kill('SIGTERM');
    };
    child.stdout.on('data', read);
    child.stderr.on('data', read);
    child.on('close', (code) => resolve({ code, output }));
  });
}

describe('BATON_MAX_SESSIONS', () => {
  it(`0 (once "no limit") and more than ${MAX_SESSIONS_PER_USER} stop the service at start-up with a sentence naming the ceiling; ${MAX_SESSIONS_PER_USER} starts`, async () => {
    const sentence = `BATON_MAX_SESSIONS must be a whole number from 1 (one device) to ${MAX_SESSIONS_PER_USER}`;
    for (const bad of ['0', String(MAX_SESSIONS_PER_USER + 1)]) {
      const run = await serve({ BATON_MAX_SESSIONS: bad });
      expect(run.output).not.toMatch(/listening on/);
      expect(run.output).toContain(sentence);
      expect(run.code).toBe(1);
      expect(() => loadConfig({ BATON_MAX_SESSIONS: bad })).toThrow(sentence);
    }
    const fine = await serve({ BATON_MAX_SESSIONS: String(MAX_SESSIONS_PER_USER) });
    expect(fine.output).toMatch(/listening on http/);
    expect(loadConfig({ BATON_MAX_SESSIONS: String(MAX_SESSIONS_PER_USER) }).maxSessionsPerUser).toBe(MAX_SESSIONS_PER_USER);
  }, 30_000);
});
