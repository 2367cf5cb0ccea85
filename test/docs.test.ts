/**
 * Every TypeScript code block of the README and docs/ (```ts, ```tsx or ```typescript) typechecks against
 * the packages as an application imports them (`baton-auth`, `baton-auth/http`,
 * `baton-auth-client`, …, resolved to their sources by the `baton-source` condition), so a guide
 * cannot name an export that does not exist or call it with the wrong options. Blocks are written
 * as modules to a private folder under .tmp/ and checked by one `tsc` run, with the docs site's
 * configuration beside them. A block that is deliberately partial is fenced ```ts no-check.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

/** A code block: where it is, its fence's info string and its text. */
interface Block {
  file: string;
  line: number;
  info: string;
  code: string;
}

/** README.md and every Markdown file under docs/, but not the generated API reference or the site's build. */
function markdownFiles(): string[] {
  const files = ['README.md'];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory() && !['docs/api', 'docs/.vitepress'].includes(path)) walk(path);
      else if (entry.isFile() && entry.name.endsWith('.md')) files.push(path);
    }
  };
  walk('docs');
  return files;
}

/** The fenced blocks of a Markdown text; `line` is the first line of code (1-based). */
function codeBlocks(file: string, text: string): Block[] {
  const blocks: Block[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```(\S.*)?$/.exec(lines[i] as string);
    if (!open) continue;
    const indent = open[1] as string;
    const start = i + 1;
    let end = start;
    while (end < lines.length && !(lines[end] as string).startsWith(`${indent}\`\`\``)) end++;
    const code = lines
      .slice(start, end)
      .map((l) => l.slice(indent.length))
      .join('\n');
    blocks.push({ file, line: start + 1, info: (open[2] ?? '').trim(), code });
    i = end;
  }
  return blocks;
}

const isTypeScript = (info: string): boolean => /^(ts|tsx|typescript)\b/.test(info);
const noCheck = (info: string): boolean => /\bno-check\b/.test(info);

const blocks = markdownFiles().flatMap((file) => codeBlocks(file, readFileSync(join(root, file), 'utf8')));
const typescript = blocks.filter((b) => isTypeScript(b.info));
const checked = typescript.filter((b) => !noCheck(b.info));

/** A block that names an export baton-auth lacks: the check must catch it, or it proves nothing. */
const CANARY: Block = { file: 'canary', line: 1, info: 'ts', code: "import { noSuchExport } from 'baton-auth';\nconsole.info(noSuchExport);" };

const dir = join(root, '.tmp', `docs-blocks-${process.pid}`);
// BATON_KEEP_DOCS_BLOCKS=1 keeps the folder, to run tsc on it by hand.
afterAll(() => {
  if (!process.env.BATON_KEEP_DOCS_BLOCKS) rmSync(dir, { recursive: true, force: true });
});

/** Writes each block as a module, runs tsc once, and returns its diagnostics per block. */
function typecheck(all: Block[]): Map<Block, string[]> {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const byName = new Map<string, Block>();
  all.forEach((block, i) => {
    const name = `block-${String(i).padStart(3, '0')}.${block.info.startsWith('tsx') ? 'tsx' : 'ts'}`;
    // `export {}` makes a block without imports a module too: its names stay its own, top-level await works.
    writeFileSync(join(dir, name), `${block.code}\nexport {};\n`);
    byName.set(name, block);
  });
  const base = JSON.parse(readFileSync(join(root, 'tsconfig.json'), 'utf8')) as { compilerOptions: Record<string, unknown> };
  const tsconfig = {
    // The project's own settings, less the two that a snippet showing one call cannot meet.
    compilerOptions: { ...base.compilerOptions, noUnusedLocals: false, noUnusedParameters: false, noEmit: true, jsx: 'react-jsx' },
    files: [...byName.keys(), relative(dir, join(root, 'docs/.vitepress/config.mts'))],
  };
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(tsconfig, null, 2));
  let output = '';
  try {
    execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', dir, '--pretty', 'false'], { cwd: dir, encoding: 'utf8' });
  } catch (err) {
    output = String((err as { stdout?: string }).stdout ?? err);
  }
  const found = new Map<Block, string[]>();
  for (const line of output.split('\n').filter(Boolean)) {
    const at = /^(block-\d+\.tsx?)\((\d+),(\d+)\): (.*)$/.exec(line);
    const block = at && byName.get(at[1] as string);
    // Other files' errors (the site's configuration, or a source file) are reported as they are.
    const key = block ?? { file: 'other', line: 0, info: '', code: '' };
    const message = block && at ? `${block.file}:${block.line + Number(at[2]) - 1}: ${at[4]}` : line;
    found.set(key, [...(found.get(key) ?? []), message]);
  }
  return found;
}

describe('docs: TypeScript code blocks', () => {
  it('finds the blocks and keeps deliberately partial ones rare', () => {
    expect(checked.length).toBeGreaterThan(10);
    expect(checked.some((b) => b.file === 'README.md')).toBe(true);
    expect(checked.some((b) => b.info.startsWith('tsx'))).toBe(true); // React's components, as JSX
    const partial = typescript.filter((b) => noCheck(b.info)).map((b) => `${b.file}:${b.line}`);
    expect(partial.length, `no-check blocks: ${partial.join(', ')}`).toBeLessThanOrEqual(3);
  });

  it('every block typechecks against the packages, and a name the exports lack fails', () => {
    const errors = typecheck([...checked, CANARY]);
    expect(errors.get(CANARY)?.join('\n')).toMatch(/has no exported member 'noSuchExport'/);
    errors.delete(CANARY);
    expect([...errors.values()].flat()).toEqual([]);
  }, 180_000);
});
