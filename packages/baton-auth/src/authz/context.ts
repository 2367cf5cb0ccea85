/**
 * The authorization endpoint's options (`AuthHandlerOptions.authorization`), resolved once when the
 * handler is created into the `AuthzContext` every `authz/` route works with. Import the types
 * from `baton-auth/http`.
 */
import { BatonConfigError } from '../core/errors.ts';
import { toMs } from '../core/duration.ts';
import { realRequest } from '../protocol/lazy-request.ts';
import type { Duration } from '../core/duration.ts';
import type { Baton } from '../core/baton.ts';
import { memoryConsents } from './consent-store.ts';
import type { ConsentStore } from './consent-store.ts';
import { sealerOf } from './codes.ts';
import { THEME_VARIABLES } from './html.ts';
import type { Sealer } from './seal.ts';
import type { ClientMetadataOptions } from './client-metadata.ts';
import type { RegistrationOptions } from './registration.ts';
import type { ProvidersOptions } from '../upstream/routes.ts';

export type { ConsentStore } from './consent-store.ts';

/** The signed-in user of a browser, as your application knows it (library-first mode). */
export interface AuthorizationUser {
  userId: string;
  /** When the user last entered their credentials, in seconds since the epoch (OIDC `auth_time`). */
  authTime: number;
  /** The scopes the user may have, space-separated; absent: none beyond `openid`. */
  scope?: string;
}

/** The look of the hosted pages. */
export interface PageOptions {
  /** The page title and heading. Default "Sign in". */
  title?: string;
  /** An https (or same-origin path) URL of a logo shown above the form. */
  logoUrl?: string;
  /** CSS variables, e.g. `{ '--baton-accent': '#0a7', '--baton-radius': '8px' }`. */
  theme?: Record<`--${string}`, string>;
}

/** Options of the authorization endpoint (`GET|POST /oauth/authorize`, `POST /oauth/par`). */
export interface AuthorizationOptions {
  /** Library-first: the signed-in user of this browser in YOUR app, or null. With it, no hosted sign-in page is served. */
  currentUser?: (request: Request) => Promise<AuthorizationUser | null>;
  /** With currentUser: your sign-in page's URL, given the URL to come back to afterwards (an `/oauth/authorize?txn=…` URL). */
  signInUrl?: (returnTo: string) => string;
  /**
   * With currentUser: ends your app's session of this browser when RP-initiated logout
   * (`/oauth/end-session`) signs its user out — the browser's session here is yours, and left alone
   * the next sign-in at any client would be silent. Returns the `Set-Cookie` values to answer with.
   */
  signOut?: (request: Request) => Promise<readonly string[]>;
  /** The hosted pages' look. */
  page?: PageOptions;
  /** Where consents are remembered. Default `memoryConsents()` (this process only). */
  consents?: ConsentStore;
  /** How long an authorization code lives: at most 60 s (the default). Seconds or a duration string. */
  codeTtl?: Duration;
  /** The claims `claims` may return (`preferred_username`, `email`, …), advertised as `claims_supported` (OIDC Discovery §3). Default none. */
  claimsSupported?: readonly string[];
  /** OIDC claims of /userinfo for the granted scopes. Default: none beyond `sub`. */
  claims?: (userId: string, scope: readonly string[]) => Promise<Record<string, unknown>>;
  /** RFC 7591 registration at `POST /oauth/register` (off when absent; needs a registry with `register`). */
  registration?: RegistrationOptions;
  /** Client ID metadata documents (off when absent): https client ids on these hosts. */
  clientMetadataDocuments?: ClientMetadataOptions;
  /**
   * With the handler's `passkeys`: the same-origin URL of the hosted sign-in page's passkey script
   * (a module on `@simplewebauthn/browser`; the service serves `passkey-sign-in.js`). Absent: the page offers no passkey.
   */
  passkeyScript?: string;
  /**
   * Sign-in with other providers (Google, Microsoft, Apple, GitHub, any OpenID Connect provider):
   * "Continue with NAME" on the hosted sign-in page, `/auth/providers/<name>/start` and `/callback`
   * (`upstream/routes.ts`). Off when absent. See docs/providers.md.
   */
  providers?: ProvidersOptions;
}

/** The authorization endpoint's resolved options, on `HandlerContext.authz`. */
export interface AuthzContext {
  readonly options: AuthorizationOptions;
  readonly currentUser: AuthorizationOptions['currentUser'];
  readonly signInUrl: AuthorizationOptions['signInUrl'];
  readonly page: { title: string; logoUrl: string | undefined; theme: Record<string, string> };
  readonly consents: ConsentStore;
  readonly codeTtlMs: number;
  readonly sealer: Sealer;
  readonly providers: ProvidersOptions | undefined;
}

/**
 * A CSS custom property and a value that cannot leave its declaration: no `;`, braces, `<`, quotes
 * or backslashes, no comment (`/*` would swallow the rest of the stylesheet), and parentheses and
 * square brackets closed in order (an open function or block swallows every rule after it: CSS Syntax 3).
 */
const VAR_NAME = /^--[A-Za-z0-9-]{1,64}$/;
const VAR_VALUE = /^[^;{}<>"'\\\n\r]{1,200}$/;
function plainValue(value: string): boolean {
  if (!VAR_VALUE.test(value) || value.includes('/*') || value.includes('*/')) return false;
  // `(` and `[` each open a block that runs to its own closer (CSS Syntax 3, "consume a function",
  // "consume a simple block"): each must be closed, in order, or the rest of the stylesheet is swallowed.
  const open: string[] = [];
  for (const ch of value) {
    if (ch === '(' || ch === '[') open.push(ch === '(' ? ')' : ']');
    if ((ch === ')' || ch === ']') && open.pop() !== ch) return false;
  }
  return open.length === 0;
}

export function checkPage(page: PageOptions = {}): AuthzContext['page'] {
  const theme: Record<string, string> = {};
  for (const [name, value] of Object.entries(page.theme ?? {})) {
    if (!VAR_NAME.test(name) || typeof value !== 'string' || !plainValue(value))
      throw new BatonConfigError(
        `authorization.page.theme: ${JSON.stringify(name.slice(0, 70))} must be a CSS variable (--name) with a plain value (no ; { } < > quotes or comments, parentheses and brackets closed).`,
      );
    if (!(THEME_VARIABLES as readonly string[]).includes(name))
      throw new BatonConfigError(`authorization.page.theme: the pages read no ${name.slice(0, 70)}; they read ${THEME_VARIABLES.join(', ')}.`);
    theme[name] = value;
  }
  const logo = page.logoUrl;
  if (logo !== undefined && !(typeof logo === 'string' && (/^https:\/\/[^\s"'<>]+$/.test(logo) || /^\/[^/\\\s"'<>][^\s"'<>]*$/.test(logo))))
    throw new BatonConfigError('authorization.page.logoUrl must be an https URL or a path on this site, e.g. https://cdn.example.com/logo.svg.');
  if (page.title !== undefined && (typeof page.title !== 'string' || page.title.length > 100))
    throw new BatonConfigError('authorization.page.title must be a string of at most 100 characters.');
  return { title: page.title ?? 'Sign in', logoUrl: logo, theme };
}

/** Resolves and checks `AuthHandlerOptions.authorization` (a `BatonConfigError` with a sentence otherwise). */
export function authzContext(baton: Baton, options: AuthorizationOptions = {}): AuthzContext {
  if ((options.currentUser === undefined) !== (options.signInUrl === undefined))
    throw new BatonConfigError('authorization: give currentUser and signInUrl together (library-first), or neither (the hosted sign-in page).');
  if (options.signOut !== undefined && options.currentUser === undefined)
    throw new BatonConfigError('authorization.signOut ends your app’s session, so it goes with currentUser (library-first).');
  const codeTtlMs = toMs(options.codeTtl ?? 60, 'authorization.codeTtl');
  // OAuth 2.1 §4.1.2 and RFC 6749 §4.1.2: a code lives a short time, 10 minutes at most; Baton allows 60 s.
  if (codeTtlMs < 1000 || codeTtlMs > 60_000) throw new BatonConfigError('authorization.codeTtl must be between 1 s and 60 s.');
  const { currentUser } = options;
  return {
    options,
    // The app's code gets a real Request (the Node adapter's lazy one fails undici's brand checks).
    currentUser: currentUser && ((request: Request) => currentUser(realRequest(request))),
    signInUrl: options.signInUrl,
    page: checkPage(options.page),
    consents: options.consents ?? memoryConsents(),
    codeTtlMs,
    // The one sealer of the engine, shared with the token endpoint's code grant (codes.ts).
    sealer: sealerOf(baton),
    providers: options.providers,
  };
}
