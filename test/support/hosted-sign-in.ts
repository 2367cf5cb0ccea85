/**
 * The hosted sign-in page in Chromium, as a person uses it (issue #25): the authorization URL
 * opened, "Username" and "Password" typed, "Sign in" pressed, "Allow" pressed when a consent page
 * comes, and the redirect back to the relying party caught where it arrives.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { RelyingParty } from './authz-service.ts';
import { USER } from './authz-service.ts';

/**
 * A fresh browser profile that accepts the TLS proxy's self-signed authority (Playwright's
 * `ignoreHTTPSErrors`, what `--ignore-certificate-errors` does, per context).
 */
export function httpsContext(browser: Browser): Promise<BrowserContext> {
  return browser.newContext({ ignoreHTTPSErrors: true });
}

/** What the page shows, for a failure message. */
const said = async (page: Page) =>
  `the page at ${page.url().split('?')[0]} said: ${((await page.textContent('body').catch(() => '')) ?? '').replace(/\s+/g, ' ').slice(0, 400)}`;

/** Fails with what the page said instead of a bare timeout. */
export async function explained<T>(page: Page, step: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    throw new Error(`${step}: ${(err as Error).message.split('\n')[0]}; ${await said(page)}`, { cause: err });
  }
}

/**
 * Opens the authorization request `url`, signs in on the hosted page (consenting if asked) and
 * returns the URL the browser brought back to the relying party's `path`.
 */
export async function signInOnHostedPage(page: Page, url: string, rp: RelyingParty, path = '/callback', user = USER): Promise<URL> {
  page.setDefaultTimeout(15_000);
  const back = rp.next(path);
  back.catch(() => {}); // awaited below; a timeout here is reported there
  const form = page.getByLabel('Username');
  const first = await explained(page, 'opening the authorization request', async () => {
    await page.goto(url);
    // Signed in there already (the authorization server's session cookie): straight back.
    return Promise.race([back.then(() => 'back' as const), form.waitFor({ state: 'visible' }).then(() => 'form' as const)]);
  });
  if (first === 'back') return back;
  await form.fill(user.username);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  const allow = page.getByRole('button', { name: 'Allow' });
  const consent = allow.waitFor({ state: 'visible', timeout: 20_000 }).then(
    () => 'consent' as const,
    () => 'none' as const,
  );
  const next = await Promise.race([
    back.then(
      () => 'back' as const,
      () => 'none' as const,
    ),
    consent,
  ]);
  if (next === 'consent') await allow.click();
  return explained(page, 'coming back to the relying party', () => back);
}
