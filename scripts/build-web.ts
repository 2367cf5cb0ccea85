/**
 * Bundles the client SDK for the web page (`web/client.js`, an ES module) with esbuild.
 * Run by `npm run build` and before `npm start`.
 */
import { build } from 'esbuild';

await build({
  entryPoints: [new URL('../src/client/index.ts', import.meta.url).pathname],
  outfile: new URL('../web/client.js', import.meta.url).pathname,
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  sourcemap: false,
  legalComments: 'none',
  logLevel: 'warning',
});
