/**
 * Bundles the client SDK for the web page (`web/client.js`, an ES module) with esbuild, from
 * `baton-auth-client`'s sources. Run by the package's build and before `npm start`.
 */
import { build } from 'esbuild';

/** `contents` bundled as one minified ES module for the browser at `out` (relative to this script). */
const bundle = (contents: string, out: string, conditions: string[] = []) =>
  build({
    stdin: { contents, resolveDir: new URL('.', import.meta.url).pathname, loader: 'js' },
    conditions,
    outfile: new URL(out, import.meta.url).pathname,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    sourcemap: false,
    legalComments: 'none',
    logLevel: 'warning',
  });

await bundle("export * from 'baton-auth-client';", '../web/client.js', ['baton-source']);
// @simplewebauthn/browser as one ES module for the page and the hosted sign-in page (`web/webauthn.js`): served by the service, same-origin, no CDN.
await bundle("export * from '@simplewebauthn/browser';", '../web/webauthn.js');
