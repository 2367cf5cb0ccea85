/** The runtime matrix on Node (this process's): the baseline the other runtimes are held to. */
import { runProcess, runtimeSuite } from '../support/runtimes.ts';

runtimeSuite('Node', {
  missing: () => undefined,
  run: (bundle) => runProcess(process.execPath, [bundle.cli], bundle),
});
