/**
 * Bundles the client SDK for the web page (`web/client.js`, an ES module) with esbuild, from
 * `baton-auth-client`'s sources. Run by the package's build and before `npm start`.
 */
import { build } from 'esbuild';

await build({
  stdin: { contents: "export * from 'baton-auth-client';", resolveDir: new URL('.', import.meta.url).pathname, loader: 'js' },
  conditions: ['baton-source'],
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

// @simplewebauthn/browser as one ES module for the page and the hosted sign-in page (`web/webauthn.js`): served by the service, same-origin, no CDN.
await build({
  stdin: { contents: "export * from '@simplewebauthn/browser';", resolveDir: new URL('.', import.meta.url).pathname, loader: 'js' },
  outfile: new URL('../web/webauthn.js', import.meta.url).pathname,
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  sourcemap: false,
  legalComments: 'none',
  logLevel: 'warning',
});
