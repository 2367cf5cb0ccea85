/**
 * The authorization servers the SDK's code-flow tests run against, as one interface: the tests
 * take the server as a parameter (`CODE_FLOW_SERVERS`: oidc-provider and Baton's own handler), and
 * every test runs against each.
 *
 * Each server has one public client (`clientId`) registered with the loopback redirect URI
 * `http://127.0.0.1/callback` (any port, RFC 8252 §7.3), which the Node loopback server and the
 * test's web page (another port on 127.0.0.1) both use; DPoP, PAR and RFC 9207 `iss` on; one user.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createBaton, generateKey } from 'baton-auth';
import { toNodeListener } from 'baton-auth/adapters/node';
import { createAuthHandler, staticClients } from 'baton-auth/http';
import { memoryStore } from 'baton-auth/stores/memory';
import { playBrowser } from './form-browser.ts';
import type { FormUser } from './form-browser.ts';
import { startProvider } from './oidc-provider.ts';

/** What `signInInPage` uses of a Playwright page: structural, so that the Node tests (unit tier) import no browser. */
export interface BrowserPage {
  url(): string;
  locator(selector: string): { count(): Promise<number> };
  fill(selector: string, value: string): Promise<void>;
  click(selector: string): Promise<void>;
  waitForNavigation(options: { waitUntil: 'commit'; timeout: number }): Promise<unknown>;
  textContent(selector: string): Promise<string | null>;
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
  /**
   * Where `requirePar` is said: in the server's metadata (`require_pushed_authorization_requests`,
   * RFC 9126 §5: the SDK pushes unasked), or on the client's registration only (§6: the app passes `par: true`).
   */
  parRequiredBy: 'metadata' | 'client';
  /** The thumbprint of the DPoP key the server bound `accessToken` to, as it records it (undefined: Bearer). */
  boundKey(accessToken: string): Promise<string | undefined>;
  close(): Promise<void>;
}

export interface CodeFlowServerOptions {
  /** The server's metadata says `require_pushed_authorization_requests`. */
  requirePar?: boolean;
  /** The origin of the test's web page, which calls the token endpoint itself (its redirect URI is `<origin>/callback`). */
  webOrigin?: string;
}

export type StartCodeFlowServer = (options?: CodeFlowServerOptions) => Promise<CodeFlowServer>;

const isCallback = (url: string) => /^http:\/\/127\.0\.0\.1:\d+\/callback\?/.test(url);
const USER: FormUser = { username: 'alice', password: 'correct horse battery' };

/**
 * The user's part in Chromium on a server's pages until the page leaves the server's origin: on a
 * page with a password field, the text field (`login`, `username`) and the password filled; then
 * the first submit button (sign in; on a consent page, the one that allows).
 */
async function signInInPage(page: BrowserPage, issuer: string): Promise<void> {
  const origin = new URL(issuer).origin;
  for (let step = 0; step < 6 && new URL(page.url()).origin === origin; step++) {
    if ((await page.locator('input[type=password]').count()) > 0) {
      await page.fill('input[name=login], input[name=username]', USER.username);
      await page.fill('input[type=password]', USER.password);
    }
    const at = page.url();
    await Promise.all([page.waitForNavigation({ waitUntil: 'commit', timeout: 10_000 }), page.click('button[type=submit]')]).catch(async (err: unknown) => {
      throw new Error(`the form at ${at} led nowhere; the page says "${(await page.textContent('body'))?.trim().slice(0, 300)}"`, { cause: err });
    });
  }
}

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
    parRequiredBy: 'metadata',
    authorize: (url) => playBrowser(url, USER, isCallback),
    signInInPage: (page) => signInInPage(page, op.issuer),
    async boundKey(accessToken) {
      const token = (await provider.AccessToken.find(accessToken)) as { jkt?: string } | undefined;
      return token?.jkt;
    },
    close: () => op.close(),
  };
};

/** The `cnf.jkt` of a JWT access token (RFC 9449 §6.1), read without checking it (the test's own server issued it). */
function jktOf(accessToken: string): string | undefined {
  const payload = JSON.parse(Buffer.from(accessToken.split('.')[1] ?? '', 'base64url').toString('utf8')) as { cnf?: { jkt?: string } };
  return payload.cnf?.jkt;
}

/**
 * Baton's own authorization server: `createAuthHandler` on a loopback http issuer (its hosted
 * sign-in page, first-party client: no consent page), served by `toNodeListener`.
 */
export const batonHandler: StartCodeFlowServer = async (options = {}) => {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const baton = createBaton({ issuer, keys: [generateKey('EdDSA', 'k1')], refreshTokenSecret: randomBytes(32), store: memoryStore() });
  const redirectUris = ['http://127.0.0.1/callback', ...(options.webOrigin === undefined ? [] : [`${options.webOrigin}/callback`])];
  const handler = createAuthHandler({
    baton,
    authenticate: async (u, p) => (u === USER.username && p === USER.password ? { userId: 'id-alice', scope: 'openid offline_access' } : null),
    clients: staticClients([
      { id: 'default' },
      { id: 'app', redirectUris, firstParty: true, scopes: ['openid', 'offline_access'], ...(options.requirePar === true ? { requirePar: true } : {}) },
    ]),
    scopes: ['openid', 'offline_access'],
    // The page may redeem its code from the origin of its redirect URI without this (authz/client-origin.ts),
    // but /oauth/userinfo answers CORS to the allowed origins only.
    ...(options.webOrigin === undefined ? {} : { allowedOrigins: [options.webOrigin] }),
  });
  server.on('request', toNodeListener(handler));
  return {
    name: 'Baton',
    issuer,
    clientId: 'app',
    user: USER,
    subject: 'id-alice',
    userinfo: `${issuer}/oauth/userinfo`,
    parRequiredBy: 'client', // a client's `requirePar`
    authorize: (url) => playBrowser(url, USER, isCallback),
    signInInPage: (page) => signInInPage(page, issuer),
    boundKey: async (accessToken) => jktOf(accessToken),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
};

/** Every server the code-flow tests run against. */
export const CODE_FLOW_SERVERS: Record<string, StartCodeFlowServer> = { 'oidc-provider': oidcProvider, Baton: batonHandler };
