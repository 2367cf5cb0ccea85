/**
 * The suite's own rules: each file is in the tier of what it uses (test/tiers.ts), and no test
 * reaches a server it did not start or flushes one.
 */
import { globSync, readFileSync } from 'node:fs';
import { dirname, join, matchesGlob, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ALL, E2E, INTEGRATION } from './tiers.ts';

const ROOT = resolve(import.meta.dirname, '..');
const files = globSync(ALL, { cwd: ROOT }).sort();
const inAny = (file: string, globs: string[]) => globs.some((g) => matchesGlob(file, g));
const unit = files.filter((f) => !inAny(f, INTEGRATION) && !inAny(f, E2E));

/** What the unit tier leaves out, as an import a file (or a helper it imports) makes. */
const OUT_OF_UNIT: [RegExp, string][] = [
  [/^node:child_process$/, 'a child process'],
  [/^node:cluster$/, 'a child process'],
  [/^ioredis$|^baton-auth\/stores\/redis$|redis-servers\.ts$/, 'Redis'],
  [/^postgres$|^baton-auth\/stores\/postgres$|postgres-db\.ts$|outage\.ts$/, 'PostgreSQL'],
  [/^playwright-core$|chromium\.ts$/, 'a browser'],
];

/** Every module specifier `file` imports, with the test's own helpers followed. */
function imports(file: string, seen = new Set<string>()): string[] {
  if (seen.has(file)) return [];
  seen.add(file);
  const source = readFileSync(file, 'utf8');
  const specifiers = [...source.matchAll(/(?:from|import\()\s*'([^']+)'/g)].map((m) => m[1] as string);
  return specifiers.flatMap((s) => {
    const local = s.startsWith('.') ? resolve(dirname(file), s) : undefined;
    // The test's helpers are followed; the packages' sources are what is tested, not how.
    return local?.startsWith(join(ROOT, 'test')) ? [s, ...imports(local, seen)] : [s];
  });
}

describe('the tiers', () => {
  it('lists only files that exist, and leaves most of the suite in-process', () => {
    for (const glob of [...INTEGRATION, ...E2E])
      expect(
        files.some((f) => matchesGlob(f, glob)),
        glob,
      ).toBe(true);
    expect(unit.length).toBeGreaterThan(files.length / 2);
  });

  it.each(unit)('%s (unit) uses no Redis, PostgreSQL, child process or browser', (file) => {
    const used = imports(join(ROOT, file)).flatMap((s) => OUT_OF_UNIT.filter(([re]) => re.test(s)).map(([, what]) => `${what} (${s})`));
    expect(used, `${file} belongs in INTEGRATION or E2E of test/tiers.ts`).toEqual([]);
  });
});

describe('isolation from what others run on this machine', () => {
  const sources = globSync(['test/**/*.ts'], { cwd: ROOT });
  const text = (f: string) => readFileSync(join(ROOT, f), 'utf8');
  // URLs as text a test parses (redaction), the admin database (postgres-db.ts), the guard of
  // someone else's data (shared-redis.test.ts) and this file.
  const allowed = new Set([
    'test/support/postgres-db.ts',
    'test/server/redaction.test.ts',
    'test/stores/shared-redis.test.ts',
    relative(ROOT, import.meta.filename),
  ]);

  it('no test empties a Redis database (the flush commands) or selects a numbered database of one it did not start', () => {
    const hits = sources.filter((f) => !allowed.has(f)).filter((f) => /\bflush(?:db|all)\b/i.test(text(f)) || /127\.0\.0\.1:6379\/\d/.test(text(f)));
    expect(hits).toEqual([]);
  });

  it('no test connects to a fixed Redis or PostgreSQL port: each starts its own server or database', () => {
    // A store URL with a literal loopback port (a closed port is chosen at run time too).
    const hits = sources
      .filter((f) => !allowed.has(f))
      .flatMap((f) => [...text(f).matchAll(/(?:redis|postgres)(?:\+cluster)?:\/\/[^'`\s]*127\.0\.0\.1:(\d{2,5})/g)].map((m) => `${f}: ${m[0]}`));
    expect(hits).toEqual([]);
  });
});
