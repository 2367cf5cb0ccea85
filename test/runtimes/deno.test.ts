/**
 * The runtime matrix on Deno, from npm's `deno` package, with network access to 127.0.0.1 only:
 * the library asks for no other permission (no file, no environment).
 */
import { join } from 'node:path';
import { installedBinary, runProcess, runtimeSuite } from '../support/runtimes.ts';

const deno = installedBinary('deno', 'deno');

runtimeSuite('Deno', {
  missing: () => deno.missing,
  run: (bundle) =>
    runProcess(deno.path, ['run', '--no-prompt', '--allow-net=127.0.0.1', bundle.cli], bundle, {
      DENO_DIR: join(bundle.dir, '.deno'),
      DENO_NO_UPDATE_CHECK: '1',
    }),
});
