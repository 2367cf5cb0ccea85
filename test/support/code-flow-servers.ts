/**
 * The authorization servers the SDK's code-flow tests run against, as one interface: the tests
 * take the server as a parameter (`CODE_FLOW_SERVERS`), so that Baton's own authorization endpoint
 * joins oidc-provider here once it exists, and every test runs against both.
 *
 * Each server has one public client (`clientId`) registered with the loopback redirect URI
 * `http://127.0.0.1/callback` (any port, RFC 8252 §7.3), which the Node loopback server and the
 * test's web page (another port on 127.0.0.1) both use; DPoP, PAR and RFC 9207 `iss` on; one user.
 */
import { randomBytes } from 'node:crypto';
import { playBrowser } from './form-browser.ts';
import type { FormUser } from './form-browser.ts';
import { startProvider } from './oidc-provider.ts';

/** What `signInInPage` uses of a Playwright page: structural, so that the Node tests (unit tier) import no browser. */
export interface BrowserPage {
  url(): string;
  locator(selector: string): { count(): Promise<number> };
  fill(selector: string, value: string): Promise<void>;
  click(selector: string): Promise<void>;
  waitForNavigation(options: { waitUntil: 'commit' }): Promise<unknown>;
}

export interface CodeFlowServer {
  name: string;
  issuer: string;
  clientId: string;
  user: FormUser;
  /** The user's subject (`sub`) as the server names it. */
  subject: string;
  /** A URL that answers 200 with the user's claims for the access token (`client.fetch`). */
  userinfo: string;
  /**
   * Plays the browser and the user from the authorization URL (signs in, consents) until the server
   * sends the browser to the client's redirect URI; that URL, not fetched.
   */
  authorize(url: string): Promise<string>;
  /** The same in Chromium: the user's part on the server's pages, until the page leaves the server's origin. */
  signInInPage(page: BrowserPage): Promise<void>;
  /** The thumbprint of the DPoP key the server bound `accessToken` to, as it records it (undefined: Bearer). */
  boundKey(accessToken: string): Promise<string | undefined>;
  close(): Promise<void>;
}

export interface CodeFlowServerOptions {
  /** The server's metadata says `require_pushed_authorization_requests`. */
  requirePar?: boolean;
}

export type StartCodeFlowServer = (options?: CodeFlowServerOptions) => Promise<CodeFlowServer>;

const isCallback = (url: string) => /^http:\/\/127\.0\.0\.1:\d+\/callback\?/.test(url);
const USER: FormUser = { username: 'alice', password: 'correct horse battery' };

/** oidc-provider on loopback, with its dev interactions (any login, a consent button). */
export const oidcProvider: StartCodeFlowServer = async (options = {}) => {
  const op = await startProvider({
    clients: [
      {
        client_id: 'app',
        application_type: 'native', // loopback redirect URIs with any port (RFC 8252 §7.3)
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
        redirect_uris: ['http://127.0.0.1/callback'],
        response_types: ['code'],
      },
    ],
    clientBasedCORS: () => true, // the test's web page is on another port of 127.0.0.1
    rotateRefreshToken: () => true,
    features: {
      devInteractions: { enabled: true },
      dPoP: { enabled: true, nonceSecret: randomBytes(32), requireNonce: () => false },
      pushedAuthorizationRequests: { enabled: true, requirePushedAuthorizationRequests: options.requirePar === true },
      revocation: { enabled: true },
    },
  });
  const provider = op.provider;
  return {
    name: 'oidc-provider',
    issuer: op.issuer,
    clientId: 'app',
    user: USER,
    subject: USER.username, // dev interactions: the login typed is the account id
    userinfo: `${op.issuer}/me`,
    authorize: (url) => playBrowser(url, USER, isCallback),
    async signInInPage(page) {
      const origin = new URL(op.issuer).origin;
      for (let step = 0; step < 6 && new URL(page.url()).origin === origin; step++) {
        if ((await page.locator('input[name=login]').count()) > 0) {
          await page.fill('input[name=login]', USER.username);
          await page.fill('input[name=password]', USER.password);
        }
        await Promise.all([page.waitForNavigation({ waitUntil: 'commit' }), page.click('button[type=submit]')]);
      }
    },
    async boundKey(accessToken) {
      const token = (await provider.AccessToken.find(accessToken)) as { jkt?: string } | undefined;
      return token?.jkt;
    },
    close: () => op.close(),
  };
};

/** Every server the code-flow tests run against. Baton's joins when its `/oauth/authorize` lands (branches `authorize`, `codes`). */
export const CODE_FLOW_SERVERS: Record<string, StartCodeFlowServer> = { 'oidc-provider': oidcProvider };
