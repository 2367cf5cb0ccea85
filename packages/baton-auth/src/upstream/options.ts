/**
 * The settings of a sign-in provider (`upstreamProvider`'s options), the presets, the identity a
 * sign-in verifies, and the refusal (`UpstreamError`): checked here, with a sentence per mistake.
 */
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
      if (!TENANT.test(tenant))
        throw new BatonConfigError(
          `The Microsoft tenant must be a tenant id or common, organizations or consumers, not ${JSON.stringify(tenant.slice(0, 70))}.`,
        );
      // Microsoft's v2.0 endpoint per directory; openid-client accepts the `{tenantid}` issuer of the
      // multi-tenant documents and checks each ID token's `iss` against its `tid`.
      return o.issuer ?? `https://login.microsoftonline.com/${tenant}/v2.0`;
    }
    default:
      if (o.issuer === undefined)
        throw new BatonConfigError('A provider without a preset needs its issuer URL (the one its /.well-known/openid-configuration is under).');
      return o.issuer;
  }
}

/** https, or http on loopback (said once: the only case where openid-client's https rule is lifted). */
function checkIssuer(issuer: string): URL {
  const url = URL.parse(issuer);
  if (url === null || (url.protocol !== 'https:' && url.protocol !== 'http:') || url.search || url.hash || url.username)
    throw new BatonConfigError(
      `The issuer must be an https URL without query or fragment, e.g. https://accounts.example.com, not ${JSON.stringify(issuer.slice(0, 100))}.`,
    );
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname))
    throw new BatonConfigError(
      `The issuer ${url.origin} is plain http: a provider must be reached over https (http only on this machine's loopback, for development).`,
    );
  return url;
}

/** The provider's settings checked, with a sentence per mistake (`BatonConfigError`). */
export function checkProviderOptions(o: UpstreamProviderOptions): Required<Pick<UpstreamProviderOptions, 'name' | 'label' | 'scope' | 'responseMode'>> & {
  issuer: URL;
} {
  if (typeof o.name !== 'string' || !NAME.test(o.name))
    throw new BatonConfigError(
      `A provider's name is 1 to 32 lowercase letters, digits or -, starting with a letter or digit (google, acme-sso), not ${JSON.stringify(String(o.name).slice(0, 40))}.`,
    );
  if (o.preset !== undefined && !PROVIDER_PRESETS.includes(o.preset))
    throw new BatonConfigError(`The preset is one of ${PROVIDER_PRESETS.join(', ')}, not ${JSON.stringify(String(o.preset).slice(0, 40))}.`);
  if (typeof o.clientId !== 'string' || o.clientId === '' || o.clientId.length > 256)
    throw new BatonConfigError(`The provider ${o.name} needs the client id it gave you.`);
  if (o.preset === 'github' && o.clientSecret === undefined) throw new BatonConfigError('GitHub needs the client secret of your OAuth app.');
  if (o.label !== undefined && (typeof o.label !== 'string' || o.label.trim() === '' || o.label.length > 40))
    throw new BatonConfigError('A provider label is 1 to 40 characters.');
  const responseMode = o.responseMode ?? (o.preset === 'apple' ? 'form_post' : 'query');
  if (responseMode !== 'query' && responseMode !== 'form_post') throw new BatonConfigError('responseMode is query or form_post.');
  const scope = o.scope ?? (o.preset === 'github' ? 'read:user user:email' : o.preset === 'apple' ? 'openid email name' : 'openid email profile');
  if (o.preset !== 'github' && !scope.split(' ').includes('openid'))
    throw new BatonConfigError(`The scope of an OpenID Connect provider includes openid (${o.name}: ${scope}).`);
  return { name: o.name, label: o.label?.trim() ?? (o.preset ? LABELS[o.preset] : o.name), scope, responseMode, issuer: checkIssuer(issuerOf(o)) };
}
