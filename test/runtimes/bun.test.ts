/** The runtime matrix on Bun, from npm's `bun` package (its postinstall puts the binary in place: allowScripts). */
import { installedBinary, runProcess, runtimeSuite } from '../support/runtimes.ts';

const bun = installedBinary('bun', 'bin/bun.exe');

runtimeSuite('Bun', {
  missing: () => bun.missing,
  run: (bundle) => runProcess(bun.path, [bundle.cli], bundle),
});
