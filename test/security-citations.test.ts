/**
 * SECURITY.md names a test (or a source file, a doc, a red-team script) for each claim: every
 * path it names exists, so a test renamed or moved without its citation fails here.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');
const PATH = /\b(?:test|packages|docs|examples|scripts|redteam|bench)\/[\w./-]+\.(?:ts|md|mjs|py)\b/g;

it('every path SECURITY.md cites exists', () => {
  const cited = [...new Set(readFileSync(join(ROOT, 'SECURITY.md'), 'utf8').match(PATH) ?? [])];
  expect(cited.length).toBeGreaterThan(20);
  expect(cited.filter((p) => !existsSync(join(ROOT, p)))).toEqual([]);
});
