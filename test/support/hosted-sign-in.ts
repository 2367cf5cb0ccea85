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
 * returns the URL the browser brought back to the relying party's `path`; fails if the pages
 * logged an error on the way (a Content-Security-Policy violation, a script error).
 */
export async function signInOnHostedPage(page: Page, url: string, rp: RelyingParty, path = '/callback', user = USER): Promise<URL> {
  page.setDefaultTimeout(15_000);
  const errors: string[] = [];
  page.on('console', (m) => void (m.type() === 'error' && errors.push(m.text())));
  page.on('pageerror', (e) => void errors.push(e.message));
  const back = rp.next(path);
  back.catch(() => {}); // awaited below; a timeout here is reported there
  const form = page.getByLabel('Username');
  const allow = page.getByRole('button', { name: 'Allow' });
  /** The next of: back at the relying party, the sign-in form, the consent page (waited for `ms`). */
  const next = (ms: number) =>
    Promise.race([
      back.then(() => 'back' as const),
      form.waitFor({ state: 'visible', timeout: ms }).then(() => 'form' as const),
      allow.waitFor({ state: 'visible', timeout: ms }).then(() => 'consent' as const),
    ]).catch(() => 'none' as const);
  await explained(page, 'opening the authorization request', () => page.goto(url));
  // Signed in there already (the authorization server's session cookie): straight back, or to the consent page.
  let step = await next(15_000);
  if (step === 'form') {
    await form.fill(user.username);
    await page.getByLabel('Password').fill(user.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await form.waitFor({ state: 'detached', timeout: 20_000 }).catch(() => {}); // the form's page gone before looking again
    step = await next(20_000);
  }
  if (step === 'consent') await allow.click();
  const arrived = await explained(page, 'coming back to the relying party', () => back);
  // The pages work under their own Content-Security-Policy: a violation is a console error (the favicon's 404 is not ours to judge).
  const logged = errors.filter((e) => !/^Failed to load resource: .*\b404\b/.test(e));
  if (logged.length > 0) throw new Error(`the hosted pages logged errors in Chromium: ${logged.join('; ')}`);
  return arrived;
}
