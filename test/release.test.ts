/**
 * The three packages as a user gets them (`npm run release:check`, scripts/release-check.ts):
 * packed, checked for what they must not hold, installed together into an empty project from
 * their tarballs (their dependencies from the registry) and used there — every export imported,
 * their types checked, the installed `npx baton` run (`--help`, `secret generate`, `serve` on
 * memory: answering /healthz). dist is fresh: `npm test` builds first.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkContents, releaseCheck } from '../scripts/release-check.ts';

const temp = mkdtempSync(join(tmpdir(), 'baton-release-test-'));
afterAll(() => rmSync(temp, { recursive: true, force: true }));

describe('release check', () => {
  it('packs the three packages, installs the tarballs together into an empty project, and they work there', { timeout: 240_000 }, async () => {
    const lines: string[] = [];
    const { tarballs } = await releaseCheck({ out: join(temp, 'out'), build: false, log: (line) => lines.push(line) });
    expect(tarballs.map((t) => t.split('/').at(-1))).toEqual(['baton-auth-0.2.0.tgz', 'baton-auth-client-0.2.0.tgz', 'baton-auth-server-0.2.0.tgz']);
    expect(lines.at(-1)).toMatch(/^ok: /);
  });

  it('refuses a tarball with a test file, a data folder, a secret or a source map whose source is missing', () => {
    const make = (files: Record<string, string>): string => {
      const dir = mkdtempSync(join(temp, 'pkg-'));
      for (const [path, body] of Object.entries({ 'package.json': '{}', 'README.md': '', LICENSE: '', ...files })) {
        mkdirSync(join(dir, path, '..'), { recursive: true });
        writeFileSync(join(dir, path), body);
      }
      return dir;
    };
    expect(() =>
      checkContents('p', make({ 'dist/index.js': '', 'dist/index.js.map': JSON.stringify({ sources: ['../src/index.ts'] }), 'src/index.ts': '' })),
    ).not.toThrow();
    expect(() => checkContents('p', make({ 'dist/a.test.js': '' }))).toThrow(/a test file: dist\/a\.test\.js/);
    expect(() => checkContents('p', make({ 'data/baton.sqlite': '' }))).toThrow(/a data\/ folder/);
    expect(() => checkContents('p', make({ 'dist/baton.secret': '' }))).toThrow(/a secret or key file/);
    expect(() => checkContents('p', make({ 'dist/index.js.map': JSON.stringify({ sources: ['../src/index.ts'] }) }))).toThrow(
      /points to \.\.\/src\/index\.ts, which the tarball does not hold/,
    );
  });
});
