/**
 * Sign-in with another provider (an "upstream"): any OpenID Connect provider by its issuer URL,
 * presets for Google, Microsoft and Apple, and GitHub as OAuth 2.0 with its user API. Every
 * protocol step is openid-client's (v6), through its public API: discovery (OIDC Discovery §4),
 * the authorization request with PKCE S256 (RFC 7636), `state` and `nonce`, and at the callback the
 * checks of `authorizationCodeGrant` — `state`, the RFC 9207 `iss` where the provider advertises it,
 * the code's redemption with the verifier, and the ID token (signature, `iss`, `aud`, `exp`,
 * `nonce`: OIDC Core §3.1.3.7). openid-client is loaded only when a provider is first used.
 *
 * An app that keeps its own sign-in uses `upstreamProvider` directly: `start` gives the URL to
 * send the browser to and the transaction to keep (in your session, or sealed in a cookie),
 * `finish` the verified identity; then `baton.login(userId)` ([docs/providers.md](../../../../docs/providers.md)).
 */
import { timingSafeEqual } from 'node:crypto';
import type * as Oidc from 'openid-client';
import { BatonConfigError } from '../core/errors.ts';
import { isLoopbackHost } from '../protocol/loopback.ts';

/** The providers with known settings. */
export const PROVIDER_PRESETS = ['google', 'microsoft', 'apple', 'github'] as const;
export type ProviderPreset = (typeof PROVIDER_PRESETS)[number];

/** Options of `upstreamProvider`. */
export interface UpstreamProviderOptions {
  /** The provider's name in URLs and the audit trail: 1 to 32 lowercase letters, digits or `-` (`google`, `acme-sso`). */
  name: string;
  /** What the button says after "Continue with": default the preset's ("Google") or the name. */
  label?: string;
  /** Known settings: `google`, `microsoft` (with `tenant`), `apple` (`form_post`), `github` (OAuth 2.0 and its user API). */
  preset?: ProviderPreset;
  /**
   * The OpenID Connect issuer (its discovery document is `<issuer>/.well-known/openid-configuration`).
   * Required without a preset; with `github`, a GitHub Enterprise Server's URL (its API at `/api/v3`).
   * https only, or http on loopback (a provider on this machine: development and tests).
   */
  issuer?: string;
  /** `microsoft`: the directory — a tenant id, or `common`, `organizations`, `consumers`. Default `common` (openid-client checks the ID token's `tid` against `iss`). */
  tenant?: string;
  clientId: string;
  /** The client secret the provider gave (Apple: the client secret JWT, `appleClientSecret`). */
  clientSecret?: string;
  /** The scopes asked for. Default `openid email profile` (Apple `openid email name`, GitHub `read:user user:email`). */
  scope?: string;
  /** How the provider answers: `query` (default) or `form_post` (Apple's, needed for its `email` scope; a cross-site POST, so an https issuer here). */
  responseMode?: 'query' | 'form_post';
  /** How long one request to the provider may take. Default 10 s. */
  timeoutMs?: number;
  /** The fetch for the provider's endpoints (a test's CA, a proxy). */
  fetch?: (url: string, init: RequestInit) => Promise<Response>;
}

/** A provider's sign-in, verified: who the provider says the person is. */
export interface UpstreamIdentity {
  /** The provider's name (`options.name`). */
  provider: string;
  /** The issuer that vouched for it (the ID token's `iss`; GitHub: its web URL): with `subject`, the account's identity. */
  issuer: string;
  /** The account's stable id at that issuer (the ID token's `sub`; GitHub: the numeric user id). */
  subject: string;
  email?: string;
  /** Whether the provider says it verified `email` (`email_verified: true`; GitHub: the verified primary email). */
  emailVerified: boolean;
  /** A name to suggest for a new account (`preferred_username`, GitHub's `login`, or the email's local part). */
  username?: string;
  name?: string;
}

/** What a sign-in in progress must keep until its callback: never sent to the provider except `state` and `nonce`. */
export interface UpstreamTransaction {
  state: string;
  nonce?: string;
  codeVerifier: string;
}

/** A provider's sign-in refused, with why, in words a person can act on. `kind` says which. */
export class UpstreamError extends Error {
  override readonly name = 'UpstreamError';
  /** `denied` (the person or the provider said no), `state`, `nonce`, `iss`, `invalid` (another check failed), `unavailable` (the provider cannot be reached). */
  readonly kind: 'denied' | 'state' | 'nonce' | 'iss' | 'invalid' | 'unavailable';
  /** The provider's OAuth `error` code, when it sent one. */
  readonly error: string | undefined;
  constructor(kind: UpstreamError['kind'], message: string, error?: string) {
    super(message);
    this.kind = kind;
    this.error = error;
  }
}

/** A configured provider. */
export interface UpstreamProvider {
  readonly name: string;
  readonly label: string;
  readonly preset: ProviderPreset | undefined;
  readonly responseMode: 'query' | 'form_post';
  /** The issuer, as given or from the preset. */
  readonly issuer: string;
  /** The authorization request: the URL to send the browser to, and the transaction to keep until the callback. */
  start(redirectUri: string): Promise<{ url: URL; transaction: UpstreamTransaction }>;
  /**
   * The callback: `callback` is the URL the browser came back to (`query`), or the `Request` of its
   * POST (`form_post`); the response is checked against `transaction` and the code redeemed at
   * `redirectUri`. Throws `UpstreamError`.
   */
  finish(callback: URL | Request, transaction: UpstreamTransaction, redirectUri: string): Promise<UpstreamIdentity>;
  /** Discovery now (the CLI checks a new provider with it): an `UpstreamError` of kind `unavailable` when it fails. */
  check(): Promise<void>;
}

const NAME = /^[a-z0-9][a-z0-9-]{0,31}$/;
const LABELS: Record<ProviderPreset, string> = { google: 'Google', microsoft: 'Microsoft', apple: 'Apple', github: 'GitHub' };
const TENANT = /^[A-Za-z0-9.-]{1,64}$/;
/** A failed discovery is not asked again for this long: a caller starting flows cannot make the service fetch at will. */
const DISCOVERY_RETRY_MS = 30_000;
/** A discovered configuration is used this long, then discovered again (keys and endpoints move). */
const DISCOVERY_TTL_MS = 60 * 60_000;
/** The longest body read from GitHub's user API. */
const MAX_API_BYTES = 64 * 1024;

/** The issuer of a preset, or the one given. */
function issuerOf(o: UpstreamProviderOptions): string {
  switch (o.preset) {
    case 'google':
      return o.issuer ?? 'https://accounts.google.com';
    case 'apple':
      return o.issuer ?? 'https://appleid.apple.com';
    case 'github':
      return o.issuer ?? 'https://github.com';
    case 'microsoft': {
      const tenant = o.tenant ?? 'common';
      if (!TENANT.test(tenant)) throw new BatonConfigError(`The Microsoft tenant must be a tenant id or common, organizations or consumers, not ${JSON.stringify(tenant.slice(0, 70))}.`);
      // Microsoft's v2.0 endpoint per directory; openid-client accepts the `{tenantid}` issuer of the
      // multi-tenant documents and checks each ID token's `iss` against its `tid`.
      return o.issuer ?? `https://login.microsoftonline.com/${tenant}/v2.0`;
    }
    default:
      if (o.issuer === undefined) throw new BatonConfigError('A provider without a preset needs its issuer URL (the one its /.well-known/openid-configuration is under).');
      return o.issuer;
  }
}

/** https, or http on loopback (said once: the only case where openid-client's https rule is lifted). */
function checkIssuer(issuer: string): URL {
  const url = URL.parse(issuer);
  if (url === null || (url.protocol !== 'https:' && url.protocol !== 'http:') || url.search || url.hash || url.username)
    throw new BatonConfigError(`The issuer must be an https URL without query or fragment, e.g. https://accounts.example.com, not ${JSON.stringify(issuer.slice(0, 100))}.`);
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname))
    throw new BatonConfigError(`The issuer ${url.origin} is plain http: a provider must be reached over https (http only on this machine's loopback, for development).`);
  return url;
}

/** The provider's settings checked, with a sentence per mistake (`BatonConfigError`). */
export function checkProviderOptions(o: UpstreamProviderOptions): Required<Pick<UpstreamProviderOptions, 'name' | 'label' | 'scope' | 'responseMode'>> & {
  issuer: URL;
} {
  if (typeof o.name !== 'string' || !NAME.test(o.name))
    throw new BatonConfigError(`A provider's name is 1 to 32 lowercase letters, digits or -, starting with a letter or digit (google, acme-sso), not ${JSON.stringify(String(o.name).slice(0, 40))}.`);
  if (o.preset !== undefined && !PROVIDER_PRESETS.includes(o.preset))
    throw new BatonConfigError(`The preset is one of ${PROVIDER_PRESETS.join(', ')}, not ${JSON.stringify(String(o.preset).slice(0, 40))}.`);
  if (typeof o.clientId !== 'string' || o.clientId === '' || o.clientId.length > 256) throw new BatonConfigError(`The provider ${o.name} needs the client id it gave you.`);
  if (o.preset === 'github' && o.clientSecret === undefined) throw new BatonConfigError('GitHub needs the client secret of your OAuth app.');
  if (o.label !== undefined && (typeof o.label !== 'string' || o.label.trim() === '' || o.label.length > 40))
    throw new BatonConfigError('A provider label is 1 to 40 characters.');
  const responseMode = o.responseMode ?? (o.preset === 'apple' ? 'form_post' : 'query');
  if (responseMode !== 'query' && responseMode !== 'form_post') throw new BatonConfigError('responseMode is query or form_post.');
  const scope = o.scope ?? (o.preset === 'github' ? 'read:user user:email' : o.preset === 'apple' ? 'openid email name' : 'openid email profile');
  if (o.preset !== 'github' && !scope.split(' ').includes('openid')) throw new BatonConfigError(`The scope of an OpenID Connect provider includes openid (${o.name}: ${scope}).`);
  return { name: o.name, label: o.label?.trim() ?? (o.preset ? LABELS[o.preset] : o.name), scope, responseMode, issuer: checkIssuer(issuerOf(o)) };
}

let loaded: Promise<typeof Oidc> | undefined;
/** openid-client, loaded at the first provider's first use (an app without providers never loads it). */
const oidc = (): Promise<typeof Oidc> => (loaded ??= import('openid-client'));

const equal = (a: string, b: string): boolean => {
  const [x, y] = [Buffer.from(a), Buffer.from(b)];
  return x.length === y.length && timingSafeEqual(x, y);
};

/** What openid-client threw, as a refusal with a sentence (nothing of it quoted but the provider's OAuth `error` code). */
function refusal(label: string, err: unknown): UpstreamError {
  if (err instanceof UpstreamError) return err;
  const e = err as { name?: string; message?: string; error?: string; code?: string; cause?: unknown };
  const code = typeof e.error === 'string' && /^[\w.-]{1,64}$/.test(e.error) ? e.error : undefined;
  if (e.name === 'AuthorizationResponseError') {
    if (code === 'access_denied') return new UpstreamError('denied', `The sign-in with ${label} was cancelled (access_denied). You can try again or sign in another way.`, code);
    return new UpstreamError('denied', `${label} refused the sign-in (${code ?? 'an error'}). Try again, or sign in another way.`, code);
  }
  // openid-client says "invalid response encountered" and keeps oauth4webapi's precise error as its `cause`.
  const messages: string[] = [];
  for (let at: unknown = err, depth = 0; at instanceof Error && depth < 4; at = at.cause, depth++) messages.push(at.message);
  const message = messages.join(' | ');
  if (e.code === 'OAUTH_TIMEOUT' || e.code === 'OAUTH_ABORT')
    return new UpstreamError('unavailable', `${label} did not answer in time. Try again in a moment, or sign in another way.`);
  if (/"state"/.test(message)) return new UpstreamError('state', `The answer from ${label} does not belong to the sign-in this browser started (its state differs), so it was refused. Start again.`);
  if (/"iss"/.test(message)) return new UpstreamError('iss', `The answer did not come from ${label} (its iss differs: RFC 9207), so it was refused. Start again.`);
  if (/"nonce"/.test(message)) return new UpstreamError('nonce', `The ID token from ${label} was not issued for this sign-in (its nonce differs), so it was refused. Start again.`);
  if (e.name === 'ResponseBodyError')
    return new UpstreamError('denied', `${label} refused to complete the sign-in (${code ?? 'an error'}). Start again, or sign in another way.`, code);
  if (e.name === 'TypeError' || e.name === 'AbortError' || e.name === 'TimeoutError' || /fetch failed|timed? ?out|ECONNREFUSED|ENOTFOUND/i.test(message))
    return new UpstreamError('unavailable', `${label} cannot be reached right now. Try again in a moment, or sign in another way.`);
  return new UpstreamError('invalid', `The answer from ${label} failed a check, so it was refused. Start again, or sign in another way.`);
}

/** A body of at most `max` bytes, as JSON. */
async function boundedJson(res: Response, max: number): Promise<unknown> {
  const text = await res.text();
  if (text.length > max) throw new UpstreamError('invalid', 'The provider answered with too much.');
  return JSON.parse(text) as unknown;
}

/**
 * A provider, ready to start and finish sign-ins. The settings are checked now (a
 * `BatonConfigError` with a sentence); the provider is contacted only at the first sign-in (or `check()`).
 * @example
 * ```ts
 * import { upstreamProvider } from 'baton-auth/http';
 * const google = upstreamProvider({ name: 'google', preset: 'google', clientId: '…', clientSecret: process.env.GOOGLE_SECRET });
 * const { url, transaction } = await google.start('https://app.example.com/auth/google/callback');
 * // … keep `transaction` in this browser's session, send the browser to `url`; at the callback:
 * const who = await google.finish(new URL(request.url), transaction, 'https://app.example.com/auth/google/callback');
 * ```
 */
export function upstreamProvider(options: UpstreamProviderOptions): UpstreamProvider {
  const { name, label, scope, responseMode, issuer } = checkProviderOptions(options);
  const github = options.preset === 'github';
  const timeoutMs = options.timeoutMs ?? 10_000;
  let cached: { at: number; config?: Promise<Oidc.Configuration>; failed?: UpstreamError } | undefined;

  async function configure(o: typeof Oidc, config: Oidc.Configuration): Promise<Oidc.Configuration> {
    // RFC 8252-style loopback only: openid-client refuses http otherwise, and so does checkIssuer.
    if (issuer.protocol === 'http:') o.allowInsecureRequests(config);
    if (options.fetch !== undefined) config[o.customFetch] = options.fetch as Oidc.CustomFetch;
    config.timeout = Math.ceil(timeoutMs / 1000);
    return config;
  }

  async function discover(): Promise<Oidc.Configuration> {
    const o = await oidc();
    const auth = options.clientSecret === undefined ? o.None() : o.ClientSecretPost(options.clientSecret);
    if (github) {
      // GitHub is OAuth 2.0, not OpenID Connect: no discovery document, no ID token. Its documented
      // endpoints; a GitHub Enterprise Server has them under its own URL.
      const base = issuer.href.replace(/\/$/, '');
      const server: Oidc.ServerMetadata = {
        issuer: base,
        authorization_endpoint: `${base}/login/oauth/authorize`,
        token_endpoint: `${base}/login/oauth/access_token`,
        code_challenge_methods_supported: ['S256'],
      };
      return configure(o, new o.Configuration(server, options.clientId, options.clientSecret === undefined ? {} : { client_secret: options.clientSecret }, auth));
    }
    const execute = issuer.protocol === 'http:' ? [o.allowInsecureRequests] : [];
    const config = await o.discovery(issuer, options.clientId, undefined, auth, {
      execute,
      timeout: Math.ceil(timeoutMs / 1000),
      ...(options.fetch === undefined ? {} : { [o.customFetch]: options.fetch as Oidc.CustomFetch }),
    });
    return configure(o, config);
  }

  /** The configuration, discovered at most once per `DISCOVERY_TTL_MS`; a failure remembered `DISCOVERY_RETRY_MS`. */
  async function config(): Promise<Oidc.Configuration> {
    const now = Date.now();
    if (cached?.failed !== undefined && now - cached.at < DISCOVERY_RETRY_MS) throw cached.failed;
    if (cached?.config === undefined || now - cached.at >= DISCOVERY_TTL_MS) {
      const attempt = { at: now, config: discover() };
      cached = attempt;
      attempt.config.catch((err: unknown) => {
        if (cached === attempt) cached = { at: Date.now(), failed: new UpstreamError('unavailable', `${label} cannot be reached right now (its configuration could not be read). Try again in a moment, or sign in another way.`) };
        void err;
      });
    }
    try {
      return await (cached.config as Promise<Oidc.Configuration>);
    } catch {
      throw (cached.failed ?? new UpstreamError('unavailable', `${label} cannot be reached right now. Try again in a moment, or sign in another way.`));
    }
  }

  async function githubIdentity(o: typeof Oidc, c: Oidc.Configuration, accessToken: string): Promise<UpstreamIdentity> {
    // GitHub's REST API (docs.github.com/rest/users): `/user` (the numeric `id` is the account's
    // stable identity, `login` can change), `/user/emails` (each with `primary` and `verified`).
    const api = issuer.hostname === 'github.com' ? 'https://api.github.com' : `${issuer.href.replace(/\/$/, '')}/api/v3`;
    const get = async (path: string): Promise<unknown> => {
      const headers = new Headers({ accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28' });
      const res = await o.fetchProtectedResource(c, accessToken, new URL(`${api}${path}`), 'GET', null, headers);
      if (!res.ok) throw new UpstreamError('invalid', `${label} did not give the account's details (${res.status} at ${path}).`);
      return boundedJson(res, MAX_API_BYTES);
    };
    const user = (await get('/user')) as { id?: unknown; login?: unknown; name?: unknown };
    if (!Number.isSafeInteger(user.id)) throw new UpstreamError('invalid', `${label} gave no account id.`);
    const emails = (await get('/user/emails')) as { email?: unknown; primary?: unknown; verified?: unknown }[];
    const primary = Array.isArray(emails) ? emails.find((e) => e.primary === true && e.verified === true && typeof e.email === 'string') : undefined;
    return {
      provider: name,
      issuer: issuer.href.replace(/\/$/, ''),
      subject: String(user.id),
      ...(primary === undefined ? {} : { email: primary.email as string }),
      emailVerified: primary !== undefined,
      ...(typeof user.login === 'string' ? { username: user.login } : {}),
      ...(typeof user.name === 'string' ? { name: user.name } : {}),
    };
  }

  return {
    name,
    label,
    preset: options.preset,
    responseMode,
    issuer: issuer.href.replace(/\/$/, ''),
    async check() {
      await config();
    },
    async start(redirectUri) {
      const o = await oidc();
      const c = await config();
      const transaction: UpstreamTransaction = { state: o.randomState(), codeVerifier: o.randomPKCECodeVerifier() };
      if (!github) transaction.nonce = o.randomNonce();
      const params: Record<string, string> = {
        redirect_uri: redirectUri,
        scope,
        state: transaction.state,
        code_challenge: await o.calculatePKCECodeChallenge(transaction.codeVerifier),
        code_challenge_method: 'S256',
      };
      if (transaction.nonce !== undefined) params.nonce = transaction.nonce;
      if (responseMode === 'form_post') params.response_mode = 'form_post';
      return { url: o.buildAuthorizationUrl(c, params), transaction };
    },
    async finish(callback, transaction, redirectUri) {
      const o = await oidc();
      const c = await config();
      try {
        // The browser's answer, read at the redirect URI as registered (a proxy in front may have
        // given the request another origin): openid-client takes the redirect_uri from this URL.
        let current: URL | Request;
        if (callback instanceof Request && callback.method === 'POST') {
          current = new Request(redirectUri, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: await callback.text() });
        } else {
          const given = callback instanceof Request ? new URL(callback.url) : callback;
          current = new URL(redirectUri);
          current.search = given.search;
          // Checked here too, in constant time, before anything is sent (openid-client checks it again).
          const state = given.searchParams.get('state');
          if (given.searchParams.get('error') === null && (state === null || !equal(state, transaction.state))) throw refusal(label, new Error('"state"'));
        }
        const tokens = await o.authorizationCodeGrant(c, current, {
          pkceCodeVerifier: transaction.codeVerifier,
          expectedState: transaction.state,
          ...(transaction.nonce === undefined ? {} : { expectedNonce: transaction.nonce }),
          idTokenExpected: !github,
        });
        if (github) return await githubIdentity(o, c, tokens.access_token);
        let claims: Record<string, unknown> = { ...(tokens.claims() as Record<string, unknown>) };
        // The ID token says who; its email claims, or else UserInfo's for the same `sub` (OIDC Core §5.3.2).
        if (claims.email === undefined && c.serverMetadata().userinfo_endpoint !== undefined)
          claims = { ...(await o.fetchUserInfo(c, tokens.access_token, claims.sub as string)), ...claims };
        const email = typeof claims.email === 'string' ? claims.email : undefined;
        const preferred = typeof claims.preferred_username === 'string' ? claims.preferred_username : email?.split('@')[0];
        return {
          provider: name,
          issuer: claims.iss as string,
          subject: claims.sub as string,
          ...(email === undefined ? {} : { email }),
          // OIDC Core §5.1: only `true` is verified; Apple has sent the string "true".
          emailVerified: email !== undefined && (claims.email_verified === true || claims.email_verified === 'true'),
          ...(preferred === undefined ? {} : { username: preferred }),
          ...(typeof claims.name === 'string' ? { name: claims.name } : {}),
        };
      } catch (err) {
        throw refusal(label, err);
      }
    },
  };
}
