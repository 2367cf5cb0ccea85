// A TypeDoc plugin: names each entry point's module by the specifier an application imports it
// with (`baton-auth/http`, `baton-auth-client/node`), read from the packages' `exports`, instead
// of its path under src/.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Converter, ReflectionKind } from 'typedoc';

const root = resolve(import.meta.dirname, '../..');

/** Absolute source file → import specifier, for every public subpath of the three packages. */
function specifiers() {
  const out = new Map();
  for (const name of ['baton-auth', 'baton-auth-client', 'baton-auth-server']) {
    const pkg = JSON.parse(readFileSync(resolve(root, 'packages', name, 'package.json'), 'utf8'));
    for (const [subpath, target] of Object.entries(pkg.exports)) {
      if (typeof target !== 'object' || !target['baton-source']) continue;
      out.set(resolve(root, 'packages', name, target['baton-source']), subpath === '.' ? name : `${name}/${subpath.slice(2)}`);
    }
  }
  return out;
}

/** @param {import('typedoc').Application} app */
export function load(app) {
  const names = specifiers();
  app.converter.on(Converter.EVENT_CREATE_DECLARATION, (context, reflection) => {
    if (!reflection.kindOf(ReflectionKind.Module)) return;
    const file = context.getSymbolFromReflection(reflection)?.declarations?.[0]?.getSourceFile().fileName;
    const name = file && names.get(resolve(file));
    if (name) reflection.name = name;
  });
}
