/**
 * The runtime matrix on Cloudflare's workerd, driven by miniflare: the probe as a Workers module
 * with `nodejs_compat` (the library imports `node:crypto`), fetching the service on 127.0.0.1.
 */
import { createRequire } from 'node:module';
import { installedBinary, runtimeSuite } from '../support/runtimes.ts';

const require = createRequire(import.meta.url);
const workerd = (() => {
  try {
    return require('workerd') as { default: string; compatibilityDate: string };
  } catch {
    return undefined;
  }
})();
const binary =
  workerd === undefined
    ? { missing: `npm's workerd package is not installed (npm ci installs it, with miniflare)` }
    : installedBinary('workerd', 'bin/workerd');

runtimeSuite('workerd', {
  missing: () => binary.missing,
  async run(bundle, config) {
    const { Miniflare } = await import('miniflare');
    const mf = new Miniflare({
      modules: true,
      scriptPath: bundle.worker,
      modulesRoot: bundle.dir,
      compatibilityDate: workerd?.compatibilityDate,
      compatibilityFlags: ['nodejs_compat'],
    });
    try {
      const res = await mf.dispatchFetch('http://probe.test/', { method: 'POST', body: JSON.stringify(config) });
      const text = await res.text();
      if (!res.ok) throw new Error(`the worker answered ${res.status}: ${text}`);
      return `${text}\n${JSON.stringify({ step: 'done' })}`;
    } finally {
      await mf.dispose();
    }
  },
});
