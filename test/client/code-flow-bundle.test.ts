/**
 * The web page's side of the code flow in a browser bundle (esbuild, `platform: 'browser'`, as the
 * service's page is built): it resolves no Node built-in, an app that does not import
 * `signInWithRedirect`/`completeSignIn` bundles none of it (the functions take the client as an
 * argument rather than hang on its class, so they shake out), and what it adds stays under a budget
 * (hand-written rather than oauth4webapi, whose functions for the same steps weigh 24 KB minified).
 */
import { build } from 'esbuild';
import { expect, it } from 'vitest';

/** The minified browser bundle of `names` from `baton-auth-client`, and the modules in it. */
async function bundle(names: string[]): Promise<{ text: string; inputs: string[] }> {
  const out = await build({
    stdin: { contents: `export { ${names.join(', ')} } from 'baton-auth-client';`, resolveDir: import.meta.dirname, loader: 'js' },
    conditions: ['baton-source'],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  // The modules with code in the output (a module resolved and then shaken out counts 0 bytes).
  const used = Object.entries(Object.values(out.metafile.outputs)[0]?.inputs ?? {}).filter(([, v]) => v.bytesInOutput > 0);
  return {
    text: out.outputFiles[0]?.text as string,
    inputs: [...Object.keys(out.metafile.inputs).filter((p) => p.startsWith('node:')), ...used.map(([k]) => k)],
  };
}

it('bundles for the browser without a Node built-in; an app without it pays nothing; with it, under 12 KB more', async () => {
  const base = await bundle(['createTokenClient', 'browserStorage']);
  const flow = await bundle(['createTokenClient', 'browserStorage', 'signInWithRedirect', 'completeSignIn']);
  expect(flow.inputs.filter((p) => p.startsWith('node:') || /^(crypto|net|fs|http|child_process)$/.test(p))).toEqual([]);
  expect(flow.inputs.some((p) => p.endsWith('baton-auth-client/src/loopback.ts'))).toBe(false); // the CLI's half stays out of pages
  for (const file of ['code-flow.ts', 'redirect.ts', 'id-token.ts']) {
    expect(
      flow.inputs.some((p) => p.endsWith(`baton-auth-client/src/${file}`)),
      file,
    ).toBe(true);
    expect(
      base.inputs.some((p) => p.endsWith(`baton-auth-client/src/${file}`)),
      file,
    ).toBe(false);
  }
  expect(base.text).not.toContain('dpop_jkt');
  expect(flow.text).toContain('dpop_jkt');
  expect(flow.text.length - base.text.length).toBeLessThan(12 * 1024);
});
