/**
 * The service's audit file (`server/audit-log.ts`, `server/audit-read.ts`): one JSON line per
 * event, rotated by size into at most `files` siblings; read back across them (the last lines from
 * the end, a search by user — a username finding the events that name only its id —, time and
 * type); followed across a rotation. The settings refuse a mistake with a sentence.
 */
import { mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { auditEvent } from 'baton-auth';
import type { AuditEvent, AuditInput } from 'baton-auth';
import { AuditFile, openAuditLog } from '../../packages/baton-auth-server/src/server/audit-log.ts';
import { followTrail, lastLines, searchTrail, trailFiles } from '../../packages/baton-auth-server/src/server/audit-read.ts';
import { loadConfig } from '../../packages/baton-auth-server/src/server/config.ts';
import { sinceOf } from '../../packages/baton-auth-server/src/cli/commands/audit.ts';
import { eventually } from '../support/eventually.ts';

const T0 = Date.parse('2026-12-07T06:00:00.000Z');
const turn = () => new Promise((resolve) => setImmediate(resolve));
const event = (input: AuditInput, at = T0): AuditEvent => auditEvent(input, at);
const dir = () => mkdtempSync(join(tmpdir(), 'baton-audit-'));

describe('the audit file', () => {
  it('one JSON line per event, written within the turn; rotated past maxBytes into at most `files` siblings, the oldest deleted', async () => {
    const path = join(dir(), 'audit.log');
    const log = new AuditFile(path, 4096, 2);
    for (let i = 0; i < 200; i++) {
      log.write(event({ type: 'refresh.rotated', user: `u${i % 3}`, session: `s${i}`, generation: i }, T0 + i * 1000));
      if (i % 10 === 9) await turn(); // batches of ten, as requests would come
    }
    log.close();
    expect(readdirSync(join(path, '..')).sort()).toEqual(['audit.log', 'audit.log.1', 'audit.log.2']);
    const files = trailFiles(path);
    for (const file of files) {
      expect(statSync(file).size).toBeLessThanOrEqual(4096);
      for (const line of readFileSync(file, 'utf8').trimEnd().split('\n')) expect(JSON.parse(line)).toMatchObject({ v: 1, type: 'refresh.rotated' });
    }
    // Oldest first across the files: the generations count up without a gap, and end with the last written.
    const generations = files.flatMap((f) => readFileSync(f, 'utf8').trimEnd().split('\n')).map((l) => (JSON.parse(l) as AuditEvent).generation as number);
    expect(generations.at(-1)).toBe(199);
    expect(generations).toEqual(generations.map((_, i) => (generations[0] as number) + i));
    expect(generations.length).toBeGreaterThan(30);
    // The last lines, across a rotation.
    const last = lastLines(path, generations.length - 2).map((l) => (JSON.parse(l) as AuditEvent).generation);
    expect(last).toEqual(generations.slice(2));
    expect(lastLines(path, 0)).toEqual([]);
  });

  it('a line a `baton` command appended meanwhile counts toward the size: the next write rotates', async () => {
    const path = join(dir(), 'audit.log');
    const log = new AuditFile(path, 4096, 3);
    log.write(event({ type: 'login.succeeded', user: 'u1' }));
    await turn();
    appendFileSync(
      path,
      `${JSON.stringify(event({ type: 'user.created', user: 'u2', username: 'bob', actor: 'cli:ops', scope: 'x'.repeat(1000) }))}\n`.repeat(4),
    );
    log.write(event({ type: 'login.succeeded', user: 'u2' }));
    log.close();
    expect(readFileSync(path, 'utf8').trimEnd().split('\n')).toHaveLength(1);
    expect(readFileSync(`${path}.1`, 'utf8').trimEnd().split('\n')).toHaveLength(5);
  });

  it('search: by username (with the events that name only its id), since, type or family; a torn line is skipped', async () => {
    const path = join(dir(), 'audit.log');
    const lines = [
      event({ type: 'login.failed', username: 'alice', ip: '192.0.2.1', reason: 'bad_credentials' }, T0),
      event({ type: 'login.succeeded', user: 'id-a', username: 'alice', session: 's1' }, T0 + 1000),
      event({ type: 'refresh.rotated', user: 'id-a', session: 's1', generation: 1 }, T0 + 2000),
      event({ type: 'refresh.rotated', user: 'id-b', session: 's2', generation: 1 }, T0 + 3000),
      event({ type: 'session.revoked', user: 'id-a', session: 's1', reason: 'logout' }, T0 + 4000),
    ].map((e) => JSON.stringify(e));
    writeFileSync(`${path}.1`, `${lines.slice(0, 2).join('\n')}\n{"v":1,"ty\n`);
    writeFileSync(path, `${lines.slice(2).join('\n')}\n`);
    const search = async (q: Parameters<typeof searchTrail>[1]) => {
      const out: string[] = [];
      await searchTrail(path, q, (l) => out.push(l));
      return out.map((l) => (JSON.parse(l) as AuditEvent).type);
    };
    expect(await search({ users: new Set(['alice']) })).toEqual(['login.failed', 'login.succeeded', 'refresh.rotated', 'session.revoked']);
    expect(await search({ users: new Set(['id-b']) })).toEqual(['refresh.rotated']);
    expect(await search({ users: new Set(['alice']), types: ['login.failed'] })).toEqual(['login.failed']);
    expect(await search({ types: ['session', 'login.succeeded'] })).toEqual(['login.succeeded', 'session.revoked']);
    expect(await search({ since: T0 + 2500 })).toEqual(['refresh.rotated', 'session.revoked']);
    expect(sinceOf('1h', T0)).toBe(T0 - 3_600_000);
    expect(sinceOf('2026-12-07T05:00:00Z')).toBe(T0 - 3_600_000);
    expect(() => sinceOf('yesterday')).toThrow(/--since must be a time/);
  });

  it('follow: new lines as they come, across a rotation', async () => {
    const path = join(dir(), 'audit.log');
    const log = new AuditFile(path, 4096, 2);
    log.write(event({ type: 'login.succeeded', user: 'before' }));
    await turn();
    const seen: string[] = [];
    const following = followTrail(path, (l) => seen.push((JSON.parse(l) as AuditEvent).user ?? ''), 20);
    try {
      for (let i = 0; i < 40; i++) {
        log.write(event({ type: 'login.succeeded', user: `u${i}`, scope: 'y'.repeat(200) }));
        await turn();
        await new Promise((r) => setTimeout(r, 5));
      }
      await eventually(() => seen.length === 40 || undefined, { timeoutMs: 5000, what: `40 lines, seen ${seen.length}` });
      expect(seen).toEqual(Array.from({ length: 40 }, (_, i) => `u${i}`));
      expect(trailFiles(path).length).toBeGreaterThan(1); // it rotated meanwhile
    } finally {
      following.stop();
      log.close();
    }
  });

  it('settings: off by default; a mistake is a sentence naming the setting', () => {
    const base = { BATON_STORE: 'memory:' };
    expect(loadConfig(base).audit).toEqual({ to: 'off' });
    expect(loadConfig({ ...base, BATON_AUDIT_LOG: 'stdout' }).audit).toEqual({ to: 'stdout' });
    expect(loadConfig({ ...base, BATON_AUDIT_LOG: '/var/log/baton/audit.log', BATON_AUDIT_LOG_MAX_BYTES: '1M', BATON_AUDIT_LOG_FILES: '9' }).audit).toEqual({
      to: 'file',
      path: '/var/log/baton/audit.log',
      maxBytes: 1024 * 1024,
      files: 9,
    });
    expect(() => loadConfig({ ...base, BATON_AUDIT_LOG_MAX_BYTES: '12' })).toThrow(/BATON_AUDIT_LOG_MAX_BYTES must be a size from 4k to 1024G/);
    expect(() => loadConfig({ ...base, BATON_AUDIT_LOG_MAX_BYTES: 'lots' })).toThrow(/BATON_AUDIT_LOG_MAX_BYTES must be/);
    expect(() => loadConfig({ ...base, BATON_AUDIT_LOG_FILES: '0' })).toThrow(/BATON_AUDIT_LOG_FILES must be a whole number of files from 1 to 100/);
    expect(() => loadConfig({ ...base, BATON_AUDIT_LOG: '/var/log/baton/' })).toThrow(/BATON_AUDIT_LOG must be 'off', 'stdout' or the path of a file/);
    expect(() => openAuditLog({ to: 'file', path: join(dir(), 'no', 'such', 'audit.log'), maxBytes: 4096, files: 1 })).toThrow(
      /BATON_AUDIT_LOG=.*audit\.log cannot be opened for appending \(ENOENT\): create its folder/,
    );
  });
});
