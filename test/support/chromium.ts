/**
 * Debian's Chromium for the browser tests (driven by playwright-core; never a downloaded browser).
 * Without it a browser test is skipped, loudly; under CI or BATON_REQUIRE_BROWSER=1 it fails.
 */
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import type { Browser } from 'playwright-core';
import { describe } from 'vitest';

const CHROMIUM = process.env.BATON_CHROMIUM ?? '/usr/bin/chromium';
const FOUND = existsSync(CHROMIUM);
const REQUIRED = !['', '0', 'false'].includes(process.env.CI ?? '') || process.env.BATON_REQUIRE_BROWSER === '1';
const MISSING = `no Chromium at ${CHROMIUM}: install Debian's with \`apt-get install -y chromium\` (or set BATON_CHROMIUM to its path)`;

/**
 * `describe` for a suite that needs Chromium, with one retry: a real browser on a 2-core machine
 * shared with the rest of the suite is the point of these tests, and so is their timing; a failed
 * attempt leaves its diagnostics in the report.
 */
export function describeInChromium(name: string, file: string, body: () => void): void {
  if (!FOUND && !REQUIRED) console.warn(`\n*** SKIPPED: ${name} (${file}): ${MISSING}. Set BATON_REQUIRE_BROWSER=1 to fail instead. ***\n`);
  describe.skipIf(!FOUND && !REQUIRED)(`${name}${FOUND ? '' : ` (${MISSING})`}`, { retry: 1 }, body);
}

/** Chromium, headless, with the flags this machine's closed network needs (no background connections). */
export async function launchChromium(): Promise<Browser> {
  if (!FOUND) throw new Error(`The browser test is required (CI or BATON_REQUIRE_BROWSER=1) but there is ${MISSING}.`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
}
