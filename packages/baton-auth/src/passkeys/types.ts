/**
 * The shape of `baton-auth/passkeys` without its code: what `createAuthHandler`'s `passkeys` option
 * takes (so that `baton-auth/http` imports nothing of `@simplewebauthn/server` at run time).
 */
import type { AuthenticatorTransport, PublicKeyCredentialCreationOptionsJSON, PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';

export type { PublicKeyCredentialCreationOptionsJSON, PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';

/** A user's passkey as lists show it: no key material. */
export interface PasskeyInfo {
  /** The credential id (base64url): public, as the browser gives it. */
  id: string;
  /** The user's name for it ("Laptop"); at first the time it was added. */
  name: string;
  /** When it was added and last used to sign in, ms since the epoch. */
  createdAt: number;
  lastUsedAt: number | undefined;
  /** Whether it may be synced to the user's other devices (WebAuthn L3 §6.1.3, the BE flag). */
  backedUp: boolean;
  /** How the browser may reach it (`internal`, `hybrid`, `usb`, …). */
  transports: AuthenticatorTransport[];
}

/** A ceremony's options for the browser (`startRegistration`/`startAuthentication`) and the sealed state that must come back with its answer. */
export interface Ceremony<O> {
  /** Give to `@simplewebauthn/browser` as `optionsJSON`. */
  options: O;
  /**
   * The challenge, sealed (encrypted and authenticated under the engine's keys, expiring): keep it
   * in this browser — an HttpOnly, SameSite=Strict cookie — and give it back with the answer. No
   * row is written for it; it is spent once, when an answer passes.
   */
  state: string;
}

/** What `createPasskeys` returns: registration, sign-in and the user's list, on the store. */
export interface Passkeys {
  /** The relying party ID every ceremony is checked against (WebAuthn L3 §5.1.4). */
  readonly rpId: string;
  /** The origins ceremonies may come from (their `clientDataJSON.origin`). */
  readonly origins: readonly string[];
  /** The most passkeys one user may have. */
  readonly maxPerUser: number;
  /**
   * Options to register a passkey for a signed-in user. `bind`: what the state is tied to besides
   * the user (the session id), which `register` must be given again. Refused with a sentence at the
   * user's `maxPerUser`.
   */
  registrationOptions(user: { id: string; name: string }, bind?: string): Promise<Ceremony<PublicKeyCredentialCreationOptionsJSON>>;
  /** Checks the browser's answer (`startRegistration`'s) against `state` and keeps the passkey. */
  register(user: { id: string }, response: unknown, state: string, options?: { bind?: string; name?: string; ip?: string }): Promise<PasskeyInfo>;
  /** Options to sign in with any passkey of this relying party (discoverable credentials: conditional UI or a button). Writes nothing. */
  signInOptions(): Promise<Ceremony<PublicKeyCredentialRequestOptionsJSON>>;
  /**
   * Checks the browser's answer (`startAuthentication`'s) against `state`: the user whose passkey
   * signed it, then call `baton.login(userId)`. A `BatonError` (`ERR_PASSKEY_REFUSED`) otherwise;
   * a signature counter that went backwards is refused and audited (`passkey.cloned`).
   */
  signIn(response: unknown, state: string, options?: { ip?: string }): Promise<{ userId: string; passkey: PasskeyInfo }>;
  /** The user's passkeys, oldest first. */
  list(userId: string): Promise<PasskeyInfo[]>;
  /** Renames one (1 to 64 characters); `ERR_NOT_FOUND` when the user has no such passkey. */
  rename(userId: string, id: string, name: string): Promise<PasskeyInfo>;
  /** Deletes one; false when the user had no such passkey. */
  remove(userId: string, id: string): Promise<boolean>;
  /** Deletes every passkey of the user (the user is removed); resolves to how many. */
  removeAll(userId: string): Promise<number>;
}
