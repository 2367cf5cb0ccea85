/**
 * Tests that need a package of the machine (Debian's Chromium, Python modules) beside what
 * `npm ci` installs. Without it such a suite is skipped, loudly, with the reason and the command
 * that installs it; under CI (CI set) or its BATON_REQUIRE_* variable set to 1 it fails instead —
 * `.ci/run` installs them and sets the variables, so CI never passes by skipping.
 */
import { describe } from 'vitest';

export interface MachinePackage {
  /** Whether it is there. */
  found: boolean;
  /** What is missing and how to install it, as a clause: "no Chromium at …: install … with `…`". */
  missing: string;
  /** The variable that makes its absence a failure, e.g. BATON_REQUIRE_BROWSER. */
  requireVar: string;
}

/** Whether the suites that need `pkg` must run (and so fail without it) rather than skip. */
export function required(pkg: Pick<MachinePackage, 'requireVar'>): boolean {
  return !['', '0', 'false'].includes(process.env.CI ?? '') || process.env[pkg.requireVar] === '1';
}

/** Whether a suite that needs `pkg` is skipped here; says so on stderr, once per call, when it is. */
export function skipped(pkg: MachinePackage, name: string, file: string): boolean {
  const skip = !pkg.found && !required(pkg);
  if (skip) console.warn(`\n*** SKIPPED: ${name} (${file}): ${pkg.missing}. Set ${pkg.requireVar}=1 to fail instead. ***\n`);
  return skip;
}

/**
 * `describe` for a suite that needs `pkg`: skipped, with the reason printed, where the package is
 * missing and not required; the reason is also in the suite's name, so a report shows it.
 */
export function describeWith(pkg: MachinePackage, name: string, file: string, body: () => void, options: { retry?: number } = {}): void {
  describe.skipIf(skipped(pkg, name, file))(`${name}${pkg.found ? '' : ` (${pkg.missing})`}`, options, body);
}
