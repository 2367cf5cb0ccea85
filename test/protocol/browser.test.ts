/**
 * The protocol toolkit bundles for the browser (the client SDK ships it there): every module of
 * `packages/baton-auth/src/protocol/`, bundled by esbuild for `platform: 'browser'` with nothing
 * external, resolves no Node built-in.
 */
import { readdirSync } from 'node:fs';
import { build } from 'esbuild';
import { expect, it } from 'vitest';

const dir = new URL('../../packages/baton-auth/src/protocol/', import.meta.url).pathname;

it('every module of the toolkit bundles for the browser, without a Node built-in', async () => {
  const modules = readdirSync(dir).filter((f) => f.endsWith('.ts'));
  expect(modules).toEqual(expect.arrayContaining(['index.ts', 'loopback.ts', 'discovery.ts', 'token-cache.ts', 'revocation-cache.ts']));
  const result = await build({
    entryPoints: modules.map((f) => `${dir}${f}`),
    bundle: true,
    write: false,
    outdir: '/nonexistent',
    platform: 'browser',
    format: 'esm',
    logLevel: 'silent',
    metafile: true,
  });
  expect(result.errors).toEqual([]);
  const inputs = Object.keys(result.metafile.inputs);
  expect(inputs.filter((p) => p.startsWith('node:') || /^(crypto|net|fs|http|stream)$/.test(p))).toEqual([]);
});
