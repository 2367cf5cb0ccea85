/**
 * The README's library quick start runs as written, against the built package, by name. It is a
 * TypeScript block without type annotations (test/docs.test.ts typechecks it), so it runs as JavaScript.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const root = new URL('..', import.meta.url);

describe('README', () => {
  it('quick start (library) runs as written', () => {
    const readme = readFileSync(new URL('README.md', root), 'utf8');
    const section = readme.slice(readme.indexOf('## Quick start (library)'));
    const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
    expect(code).toBeDefined();
    mkdirSync(new URL('.tmp/', root), { recursive: true });
    const file = new URL('.tmp/quickstart.mjs', root);
    writeFileSync(file, code as string);
    const out = execFileSync(process.execPath, [file.pathname], { cwd: root.pathname, encoding: 'utf8' });
    const lines = out.trim().split('\n');
    expect(lines).toContain('user-42 orders:read');
    expect(lines).toContain('true');
    expect(lines.at(-1)).toBe('ERR_SESSION_REVOKED');
    expect(lines[0]).toMatch(/^session\.created [A-Za-z0-9_-]{22}$/);
  });
});
