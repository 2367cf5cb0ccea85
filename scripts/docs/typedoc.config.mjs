// TypeDoc for the docs site: the public entry points of the three packages (each `exports` entry's
// `baton-source` file), as Markdown under docs/api/ for VitePress (typedoc-plugin-markdown,
// typedoc-vitepress-theme), each module named by its import specifier (./module-names.mjs).
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');
/** Paths in a TypeDoc options file are read relative to it: these are absolute. */
const at = (path) => resolve(root, path);
const packages = ['baton-auth', 'baton-auth-client', 'baton-auth-server'];

/** `packages/<name>/src/…` for every public subpath of `name`, in `exports` order. */
function entryPoints(name) {
  const pkg = JSON.parse(readFileSync(at(`packages/${name}/package.json`), 'utf8'));
  return Object.values(pkg.exports)
    .filter((target) => typeof target === 'object' && target['baton-source'])
    .map((target) => at(`packages/${name}/${target['baton-source'].replace(/^\.\//, '')}`));
}

/** @type {Partial<import('typedoc').TypeDocOptions & import('typedoc-plugin-markdown').PluginOptions>} */
export default {
  entryPoints: packages.flatMap(entryPoints),
  entryPointStrategy: 'resolve',
  tsconfig: at('docs/tsconfig.json'),
  plugin: ['typedoc-plugin-markdown', 'typedoc-vitepress-theme', at('scripts/docs/module-names.mjs')],
  out: at('docs/api'),
  docsRoot: at('docs'),
  readme: 'none',
  entryFileName: 'index',
  // One page per module (17 pages, not one per export): a short build, and a page reads like the module.
  outputFileStrategy: 'modules',
  hidePageHeader: true,
  hideBreadcrumbs: true,
  useCodeBlocks: true,
  excludePrivate: true,
  excludeInternal: true,
  excludeExternals: true,
  sort: ['source-order'],
  githubPages: false,
  disableSources: true,
  treatWarningsAsErrors: false,
  validation: { notExported: false, invalidLink: true, notDocumented: false },
  name: 'API reference',
  logLevel: 'Warn',
};
