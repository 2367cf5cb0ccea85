/**
 * The runtime matrix on Node 22, the oldest maintained LTS: the probe as a Node user runs it,
 * importing the packages' dist/ (not a bundle). The binary is BATON_NODE22's: .ci/run installs
 * node@22.11.0 (22's first LTS release) from npm for it.
 */
import { spawnSync } from 'node:child_process';
import { runProcess, runtimeSuite, unbundledProbe } from '../support/runtimes.ts';

const node22 = process.env.BATON_NODE22;

function missing(): string | undefined {
  if (node22 === undefined || node22 === '')
    return 'BATON_NODE22 is not set to a Node 22 binary (.ci/run installs node@22.11.0 from npm: npm install --prefix DIR node@22.11.0)';
  const version = spawnSync(node22, ['--version'], { encoding: 'utf8', timeout: 10_000 }).stdout?.trim() ?? '';
  return version.startsWith('v22.') ? undefined : `BATON_NODE22 (${node22}) is not Node 22 (${version || 'it does not run'})`;
}

runtimeSuite('Node 22', {
  missing,
  async run(bundle, config) {
    const probe = await unbundledProbe(config);
    try {
      return await runProcess(node22 as string, [probe.file], bundle);
    } finally {
      await probe.remove();
    }
  },
});
