/**
 * Debian's Chromium for the browser tests (driven by playwright-core; never a downloaded browser).
 * Without it a browser test is skipped, loudly; under CI or BATON_REQUIRE_BROWSER=1 it fails.
 */
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import type { Browser } from 'playwright-core';
import { describeWith } from './machine.ts';
import type { MachinePackage } from './machine.ts';

export const CHROMIUM = process.env.BATON_CHROMIUM ?? '/usr/bin/chromium';
/** Debian's Chromium, required under CI or BATON_REQUIRE_BROWSER=1. */
export const chromiumPackage: MachinePackage = {
  found: existsSync(CHROMIUM),
  missing: `no Chromium at ${CHROMIUM}: install Debian's with \`apt-get install -y chromium\` (or set BATON_CHROMIUM to its path)`,
  requireVar: 'BATON_REQUIRE_BROWSER',
};

/**
 * `describe` for a suite that needs Chromium, with one retry: a real browser on a 2-core machine
 * shared with the rest of the suite is the point of these tests, and so is their timing; a failed
 * attempt leaves its diagnostics in the report.
 */
export function describeInChromium(name: string, file: string, body: () => void): void {
  describeWith(chromiumPackage, name, file, body, { retry: 1 });
}

/** Chromium, headless, with the flags this machine's closed network needs (no background connections). */
export async function launchChromium(): Promise<Browser> {
  if (!chromiumPackage.found) throw new Error(`The browser test is required (CI or BATON_REQUIRE_BROWSER=1) but there is ${chromiumPackage.missing}.`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
}
