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
 * `finish` the verified identity; then `baton.login(userId)` (docs/providers.md).
 */
import { timingSafeEqual } from 'node:crypto';
import type * as Oidc from 'openid-client';
import { boundedJson } from './bounded.ts';
import { checkProviderOptions, UpstreamError } from './options.ts';
import type { ProviderPreset, UpstreamIdentity, UpstreamProvider, UpstreamProviderOptions, UpstreamTransaction } from './options.ts';

export { checkProviderOptions, PROVIDER_PRESETS, UpstreamError } from './options.ts';
export type { ProviderPreset, UpstreamIdentity, UpstreamProvider, UpstreamProviderOptions, UpstreamTransaction } from './options.ts';

/** A failed discovery is not asked again for this long: a caller starting flows cannot make the service fetch at will. */
const DISCOVERY_RETRY_MS = 30_000;
/** A discovered configuration is used this long, then discovered again (keys and endpoints move). */
const DISCOVERY_TTL_MS = 60 * 60_000;
/** The longest body read from GitHub's user API. */
const MAX_API_BYTES = 64 * 1024;
/**
 * Callbacks of one provider at its token endpoint at once. A callback reaches it only with a
 * sealed transaction of ours and its `state`, but a script can present one again and again (the
 * provider refuses the spent code): past this many in flight, refused at once rather than queued.
 */
export const MAX_CALLBACKS_IN_FLIGHT = 32;

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
    if (code === 'access_denied')
      return new UpstreamError('denied', `The sign-in with ${label} was cancelled (access_denied). You can try again or sign in another way.`, code);
    return new UpstreamError('denied', `${label} refused the sign-in (${code ?? 'an error'}). Try again, or sign in another way.`, code);
  }
  // openid-client says "invalid response encountered" and keeps oauth4webapi's precise error as its `cause`.
  const messages: string[] = [];
  for (let at: unknown = err, depth = 0; at instanceof Error && depth < 4; at = at.cause, depth++) messages.push(at.message);
  const message = messages.join(' | ');
  if (e.code === 'OAUTH_TIMEOUT' || e.code === 'OAUTH_ABORT')
    return new UpstreamError('unavailable', `${label} did not answer in time. Try again in a moment, or sign in another way.`);
  if (/"state"/.test(message))
    return new UpstreamError(
      'state',
      `The answer from ${label} does not belong to the sign-in this browser started (its state differs), so it was refused. Start again.`,
    );
  if (/"iss"/.test(message))
    return new UpstreamError('iss', `The answer did not come from ${label} (its iss differs: RFC 9207), so it was refused. Start again.`);
  if (/"nonce"/.test(message))
    return new UpstreamError('nonce', `The ID token from ${label} was not issued for this sign-in (its nonce differs), so it was refused. Start again.`);
  if (e.name === 'ResponseBodyError')
    return new UpstreamError('denied', `${label} refused to complete the sign-in (${code ?? 'an error'}). Start again, or sign in another way.`, code);
  if (e.name === 'TypeError' || e.name === 'AbortError' || e.name === 'TimeoutError' || /fetch failed|timed? ?out|ECONNREFUSED|ENOTFOUND/i.test(message))
    return new UpstreamError('unavailable', `${label} cannot be reached right now. Try again in a moment, or sign in another way.`);
  return new UpstreamError('invalid', `The answer from ${label} failed a check, so it was refused. Start again, or sign in another way.`);
}

/**
 * A provider, ready to start and finish sign-ins. The settings are checked now (a
 * `BatonConfigError` with a sentence); the provider is contacted only at the first sign-in (or `check()`).
 * @example
 * ```ts
 * import { upstreamProvider } from 'baton-auth/http';
 * const google = upstreamProvider({ name: 'google', preset: 'google', clientId: '…', clientSecret: process.env.GOOGLE_SECRET as string });
 * const { url, transaction } = await google.start('https://app.example.com/auth/google/callback');
 * // … keep `transaction` in this browser's session, send the browser to `url`; at the callback:
 * const who = await google.finish(new URL(request.url), transaction, 'https://app.example.com/auth/google/callback');
 * ```
 */
export function upstreamProvider(options: UpstreamProviderOptions): UpstreamProvider {
  return new Upstream(options);
}

/** The callback's answer as openid-client reads it, at the redirect URI as registered (a proxy in front may have given the request another origin). */
async function currentUrl(callback: URL | Request, t: UpstreamTransaction, redirectUri: string, label: string): Promise<URL | Request> {
  if (callback instanceof Request && callback.method === 'POST')
    return new Request(redirectUri, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: await callback.text() });
  const given = callback instanceof Request ? new URL(callback.url) : callback;
  const current = new URL(redirectUri);
  current.search = given.search;
  // Checked here too, in constant time, before anything is sent (openid-client checks it again).
  const state = given.searchParams.get('state');
  if (given.searchParams.get('error') === null && (state === null || !equal(state, t.state))) throw refusal(label, new Error('"state"'));
  return current;
}

/** The identity of an ID token's claims, or else UserInfo's for the same `sub` (OIDC Core §5.3.2). */
function oidcIdentity(name: string, claims: Record<string, unknown>): UpstreamIdentity {
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
}

class Upstream implements UpstreamProvider {
  readonly name: string;
  readonly label: string;
  readonly preset: ProviderPreset | undefined;
  readonly responseMode: 'query' | 'form_post';
  readonly issuer: string;
  readonly #url: URL;
  readonly #scope: string;
  readonly #options: UpstreamProviderOptions;
  readonly #github: boolean;
  #cached: { at: number; config?: Promise<Oidc.Configuration>; failed?: UpstreamError } | undefined;
  #inFlight = 0;

  constructor(options: UpstreamProviderOptions) {
    const checked = checkProviderOptions(options);
    this.name = checked.name;
    this.label = checked.label;
    this.preset = options.preset;
    this.responseMode = checked.responseMode;
    this.#url = checked.issuer;
    this.issuer = checked.issuer.href.replace(/\/$/, '');
    this.#scope = checked.scope;
    this.#options = options;
    this.#github = options.preset === 'github';
  }

  get #timeoutSec(): number {
    return Math.ceil((this.#options.timeoutMs ?? 10_000) / 1000);
  }

  #configure(o: typeof Oidc, config: Oidc.Configuration): Oidc.Configuration {
    // Loopback http only (checkIssuer): openid-client refuses http otherwise.
    if (this.#url.protocol === 'http:') o.allowInsecureRequests(config);
    if (this.#options.fetch !== undefined) config[o.customFetch] = this.#options.fetch as Oidc.CustomFetch;
    config.timeout = this.#timeoutSec;
    // The ID token's signature checked against the provider's JWKS too (openid-client skips it for
    // an ID token from the token endpoint unless asked: OIDC Core §3.1.3.7 lets TLS stand in for it).
    if (!this.#github) o.enableNonRepudiationChecks(config);
    return config;
  }

  async #discover(): Promise<Oidc.Configuration> {
    const o = await oidc();
    const secret = this.#options.clientSecret;
    const auth = secret === undefined ? o.None() : o.ClientSecretPost(secret);
    if (this.#github) {
      // GitHub is OAuth 2.0, not OpenID Connect: no discovery document, no ID token. Its documented
      // endpoints; a GitHub Enterprise Server has them under its own URL.
      const server: Oidc.ServerMetadata = {
        issuer: this.issuer,
        authorization_endpoint: `${this.issuer}/login/oauth/authorize`,
        token_endpoint: `${this.issuer}/login/oauth/access_token`,
        code_challenge_methods_supported: ['S256'],
      };
      return this.#configure(o, new o.Configuration(server, this.#options.clientId, secret === undefined ? {} : { client_secret: secret }, auth));
    }
    const config = await o.discovery(this.#url, this.#options.clientId, undefined, auth, {
      execute: this.#url.protocol === 'http:' ? [o.allowInsecureRequests] : [],
      timeout: this.#timeoutSec,
      ...(this.#options.fetch === undefined ? {} : { [o.customFetch]: this.#options.fetch as Oidc.CustomFetch }),
    });
    return this.#configure(o, config);
  }

  /** The configuration, discovered at most once per `DISCOVERY_TTL_MS`; a failure remembered `DISCOVERY_RETRY_MS`. */
  async #config(): Promise<Oidc.Configuration> {
    const now = Date.now();
    const down = new UpstreamError('unavailable', `${this.label} cannot be reached right now. Try again in a moment, or sign in another way.`);
    if (this.#cached?.failed !== undefined && now - this.#cached.at < DISCOVERY_RETRY_MS) throw this.#cached.failed;
    if (this.#cached?.config === undefined || now - this.#cached.at >= DISCOVERY_TTL_MS) {
      const attempt = { at: now, config: this.#discover() };
      this.#cached = attempt;
      attempt.config.catch(() => {
        if (this.#cached === attempt) this.#cached = { at: Date.now(), failed: down };
      });
    }
    try {
      return await (this.#cached.config as Promise<Oidc.Configuration>);
    } catch {
      throw down;
    }
  }

  async check(): Promise<void> {
    await this.#config();
  }

  async start(redirectUri: string): Promise<{ url: URL; transaction: UpstreamTransaction }> {
    const o = await oidc();
    const c = await this.#config();
    const transaction: UpstreamTransaction = { state: o.randomState(), codeVerifier: o.randomPKCECodeVerifier() };
    if (!this.#github) transaction.nonce = o.randomNonce();
    const params: Record<string, string> = {
      redirect_uri: redirectUri,
      scope: this.#scope,
      state: transaction.state,
      code_challenge: await o.calculatePKCECodeChallenge(transaction.codeVerifier),
      code_challenge_method: 'S256',
    };
    if (transaction.nonce !== undefined) params.nonce = transaction.nonce;
    if (this.responseMode === 'form_post') params.response_mode = 'form_post';
    try {
      return { url: o.buildAuthorizationUrl(c, params), transaction };
    } catch (err) {
      // A discovery document without an authorization endpoint: a refusal with a sentence, not a 500.
      throw new UpstreamError(
        'unavailable',
        `${this.label} cannot be used right now (${refusal(this.label, err).kind}). Try again later, or sign in another way.`,
      );
    }
  }

  async finish(callback: URL | Request, transaction: UpstreamTransaction, redirectUri: string): Promise<UpstreamIdentity> {
    const o = await oidc();
    const c = await this.#config();
    const current = await currentUrl(callback, transaction, redirectUri, this.label);
    if (this.#inFlight >= MAX_CALLBACKS_IN_FLIGHT)
      throw new UpstreamError('unavailable', `Too many sign-ins with ${this.label} are under way right now. Try again in a moment.`);
    this.#inFlight++;
    try {
      const tokens = await o.authorizationCodeGrant(c, current, {
        pkceCodeVerifier: transaction.codeVerifier,
        expectedState: transaction.state,
        ...(transaction.nonce === undefined ? {} : { expectedNonce: transaction.nonce }),
        idTokenExpected: !this.#github,
      });
      if (this.#github) return await this.#githubIdentity(o, c, tokens.access_token);
      let claims: Record<string, unknown> = { ...(tokens.claims() as Record<string, unknown>) };
      if (claims.email === undefined && c.serverMetadata().userinfo_endpoint !== undefined) {
        const info = (await o.fetchUserInfo(c, tokens.access_token, claims.sub as string)) as Record<string, unknown>;
        // The email and whether it is verified come from one answer (OIDC Core §5.1: `email_verified`
        // is about that answer's `email`): an ID token's `email_verified` says nothing of UserInfo's email.
        claims = { ...info, ...claims, email: info.email, email_verified: info.email_verified };
      }
      return oidcIdentity(this.name, claims);
    } catch (err) {
      throw refusal(this.label, err);
    } finally {
      this.#inFlight--;
    }
  }

  async #githubIdentity(o: typeof Oidc, c: Oidc.Configuration, accessToken: string): Promise<UpstreamIdentity> {
    // GitHub's REST API (docs.github.com/rest/users): `/user` (the numeric `id` is the account's
    // stable identity, `login` can change), `/user/emails` (each with `primary` and `verified`).
    const api = this.#url.hostname === 'github.com' ? 'https://api.github.com' : `${this.issuer}/api/v3`;
    const get = async (path: string): Promise<unknown> => {
      const headers = new Headers({ accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28' });
      const res = await o.fetchProtectedResource(c, accessToken, new URL(`${api}${path}`), 'GET', null, headers);
      if (!res.ok) throw new UpstreamError('invalid', `${this.label} did not give the account's details (${res.status} at ${path}).`);
      return boundedJson(res, MAX_API_BYTES);
    };
    const user = (await get('/user')) as { id?: unknown; login?: unknown; name?: unknown };
    if (!Number.isSafeInteger(user.id)) throw new UpstreamError('invalid', `${this.label} gave no account id.`);
    const emails = (await get('/user/emails')) as { email?: unknown; primary?: unknown; verified?: unknown }[];
    const primary = Array.isArray(emails) ? emails.find((e) => e.primary === true && e.verified === true && typeof e.email === 'string') : undefined;
    return {
      provider: this.name,
      issuer: this.issuer,
      subject: String(user.id),
      ...(primary === undefined ? {} : { email: primary.email as string }),
      emailVerified: primary !== undefined,
      ...(typeof user.login === 'string' ? { username: user.login } : {}),
      ...(typeof user.name === 'string' ? { name: user.name } : {}),
    };
  }
}
