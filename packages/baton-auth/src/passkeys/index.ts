/**
 * Passkeys (WebAuthn Level 3) on `@simplewebauthn/server`, kept in a Baton store. Import from
 * `baton-auth/passkeys` (`@simplewebauthn/server` is an optional peer dependency). An app that keeps
 * its own sign-in asks for options, hands them to `@simplewebauthn/browser`, checks the answer here
 * and opens a session with `baton.login(userId)`; `createAuthHandler`'s `passkeys` option serves
 * the same for the service's page and the hosted sign-in page.
 *
 * What every ceremony holds to: user verification required (§7.1 step 15, §7.2 step 17); the RP ID
 * (§7.1 step 13, §7.2 step 15: the authenticator data's `rpIdHash`) and the origin (§7.1 step 9,
 * §7.2 step 11) from the options; a challenge sealed into the state, not stored, that expires with
 * it and is spent once in the store's one-time ledger when an answer passes (§13.4.3); at most
 * `maxPerUser` passkeys a user; a signature counter that does not grow refused as a sign of a
 * cloned authenticator (§6.1.1, §7.2 step 22) — both counters 0 is an authenticator that does not count.
 *
 * @example
 * ```ts
 * import { createPasskeys } from 'baton-auth/passkeys';
 * const passkeys = createPasskeys({ baton, store, rpId: 'example.com', origins: ['https://example.com'] });
 * const { options, state } = await passkeys.signInOptions(); // state: into an HttpOnly cookie
 * // … the browser: startAuthentication({ optionsJSON: options }) → response
 * const { userId } = await passkeys.signIn(response, state);
 * const pair = await baton.login(userId, { device: { method: 'passkey' } });
 * ```
 */
import { randomBytes } from 'node:crypto';
import { generateAuthenticationOptions, generateRegistrationOptions, verifyAuthenticationResponse, verifyRegistrationResponse } from '@simplewebauthn/server';
import type { AuthenticationResponseJSON, AuthenticatorTransport, RegistrationResponseJSON } from '@simplewebauthn/server';
import { BatonError } from '../core/errors.ts';
import { sealerOf } from '../authz/codes.ts';
import { resolvePasskeyOptions } from './options.ts';
import type { PasskeyOptions, ResolvedPasskeyOptions } from './options.ts';
import type { Ceremony, PasskeyInfo, Passkeys } from './types.ts';
import {
  CREDENTIAL_ID,
  NAME,
  NAME_RULE,
  TRANSPORTS,
  USER_ID,
  info,
  passkeyKind,
  passkeyRecords,
  passkeyUseKind,
  storedOf,
  storedOne,
  useOf,
} from './records.ts';
import type { Stored } from './records.ts';
import { PASSKEY_ALGORITHMS, withinBounds } from './key-bounds.ts';

export { checkPasskeyConfig } from './options.ts';
export { passkeyKind, passkeyRecords } from './records.ts';
export type { PasskeyOptions } from './options.ts';
export type { Ceremony, PasskeyInfo, Passkeys, PublicKeyCredentialCreationOptionsJSON, PublicKeyCredentialRequestOptionsJSON } from './types.ts';

/** What a ceremony's state holds (sealed, purpose `webauthn`). */
interface State {
  /** `r`egistration or `a`uthentication. */
  k: 'r' | 'a';
  /** The challenge (base64url). */
  c: string;
  /** Spent once in the one-time ledger. */
  j: string;
  /** Expiry, ms on the engine's clock. */
  x: number;
  /** Registration: the user, and what else the state is bound to (the session). */
  u?: string;
  b?: string;
}

const refused = (sentence: string, cause?: unknown): BatonError => new BatonError('ERR_PASSKEY_REFUSED', sentence, cause === undefined ? undefined : { cause });

/** The members of `clientDataJSON` read before `@simplewebauthn/server` (which refuses one that does not parse, with its sentence). */
function clientDataOf(b64: string): { crossOrigin?: unknown; topOrigin?: unknown } | undefined {
  try {
    const parsed = JSON.parse(Buffer.from(b64, 'base64url').toString('utf8')) as unknown;
    return typeof parsed === 'object' && parsed !== null ? (parsed as { crossOrigin?: unknown; topOrigin?: unknown }) : undefined;
  } catch {
    return undefined;
  }
}

/** The answer of a browser, with the members every check reads, before any is made. */
function answerOf<T extends RegistrationResponseJSON | AuthenticationResponseJSON>(response: unknown, fields: readonly string[]): T {
  const r = response as { id?: unknown; rawId?: unknown; type?: unknown; response?: Record<string, unknown> } | null;
  if (typeof r !== 'object' || r === null || typeof r.id !== 'string' || !CREDENTIAL_ID.test(r.id) || r.rawId !== r.id || r.type !== 'public-key')
    throw refused('The browser’s answer is not a passkey credential (id, rawId, type public-key).');
  if (typeof r.response !== 'object' || r.response === null || !fields.every((f) => typeof r.response?.[f] === 'string'))
    throw refused(`The browser’s answer lacks ${fields.join(', ')}.`);
  // §7.1 step 10 and §7.2 step 13 (L3): an answer made in a frame of another site's page
  // (`crossOrigin`, `topOrigin`) — Baton's pages are never framed (frame-ancestors 'none'), so such
  // an answer is a page embedding a sign-in origin to borrow its passkeys: refused.
  const client = clientDataOf(r.response.clientDataJSON as string);
  if (client !== undefined && (client.crossOrigin === true || client.topOrigin !== undefined))
    throw refused('This passkey answer was made in a frame of another site’s page (crossOrigin): sign in on the service’s own page.');
  return r as unknown as T;
}

/** Creates the passkeys of a Baton (see the module comment); its options are checked now. */
export function createPasskeys(options: PasskeyOptions): Passkeys {
  const o = resolvePasskeyOptions(options);
  return new StorePasskeys(o);
}

class StorePasskeys implements Passkeys {
  readonly rpId: string;
  readonly origins: readonly string[];
  readonly maxPerUser: number;
  readonly #o: ResolvedPasskeyOptions;

  constructor(o: ResolvedPasskeyOptions) {
    this.#o = o;
    this.rpId = o.rpId;
    this.origins = o.origins;
    this.maxPerUser = o.maxPerUser;
  }

  #stored(userId: string): Promise<Stored[]> {
    return storedOf(this.#o.store, userId);
  }

  async #state(s: Omit<State, 'j' | 'x'>): Promise<string> {
    const x = this.#o.baton.now() + this.#o.challengeTtlMs;
    return sealerOf(this.#o.baton).seal('webauthn', { ...s, j: randomBytes(16).toString('base64url'), x }, this.#o.challengeTtlMs);
  }

  async #open(state: unknown, kind: State['k']): Promise<State> {
    const s = typeof state === 'string' ? await sealerOf(this.#o.baton).open<State>('webauthn', state) : undefined;
    if (s === undefined || s.k !== kind) throw refused('This passkey request expired or was not started in this browser: start again.');
    return s;
  }

  /** Spends the state's challenge (once, in the one-time ledger), after its answer passed every check. */
  async #spend(s: State): Promise<void> {
    if (!(await this.#o.store.consumeJti(`webauthn:${s.j}`, s.x, this.#o.baton.now()))) throw refused('This passkey answer was already used: start again.');
  }

  #full(count: number): BatonError {
    return new BatonError(
      'ERR_INVALID_ARGUMENT',
      `You have ${count} passkeys, the most one account may have (${this.maxPerUser}): delete one you no longer use, then add the new one.`,
    );
  }

  async registrationOptions(user: { id: string; name: string }, bind?: string): Promise<Ceremony<Awaited<ReturnType<typeof generateRegistrationOptions>>>> {
    if (!USER_ID.test(user.id)) throw new BatonError('ERR_INVALID_ARGUMENT', 'registrationOptions: user.id must be 1 to 128 visible ASCII characters.');
    const mine = await this.#stored(user.id);
    if (mine.length >= this.maxPerUser) throw this.#full(mine.length);
    const options = await generateRegistrationOptions({
      rpName: this.#o.rpName,
      rpID: this.rpId,
      userName: user.name,
      // The user handle: the user's id, which a sign-in's answer gives back (§5.4.3; no personal data beyond an id).
      userID: new TextEncoder().encode(user.id),
      timeout: this.#o.challengeTtlMs,
      attestationType: 'none',
      excludeCredentials: mine.map((p) => ({ id: p.id, transports: p.transports })),
      // A discoverable credential (sign-in without a username: conditional UI), user verification required.
      authenticatorSelection: { residentKey: 'required', requireResidentKey: true, userVerification: 'required' },
      supportedAlgorithmIDs: PASSKEY_ALGORITHMS,
    });
    return { options, state: await this.#state({ k: 'r', c: options.challenge, u: user.id, ...(bind === undefined ? {} : { b: bind }) }) };
  }

  async register(user: { id: string }, response: unknown, state: string, o: { bind?: string; name?: string; ip?: string } = {}): Promise<PasskeyInfo> {
    const name = o.name ?? 'Passkey';
    if (!NAME.test(name)) throw new BatonError('ERR_INVALID_ARGUMENT', NAME_RULE);
    const s = await this.#open(state, 'r');
    if (s.u !== user.id || s.b !== o.bind) throw refused('This passkey request was started by another sign-in: start again.');
    const answer = answerOf<RegistrationResponseJSON>(response, ['clientDataJSON', 'attestationObject']);
    // Its key within bounds, its attestation statement dropped before anything is verified (key-bounds.ts).
    const bounded = withinBounds(answer.response.attestationObject);
    if ('refused' in bounded) throw refused(`This passkey was not accepted: ${bounded.refused}.`);
    let verified;
    try {
      verified = await verifyRegistrationResponse({
        response: { ...answer, response: { ...answer.response, attestationObject: bounded.attestationObject } },
        expectedChallenge: s.c,
        expectedOrigin: [...this.origins],
        expectedRPID: this.rpId,
        requireUserVerification: true,
        supportedAlgorithmIDs: PASSKEY_ALGORITHMS,
      });
    } catch (err) {
      throw refused(`This passkey was not accepted: ${(err as Error).message}`.slice(0, 300), err);
    }
    if (!verified.verified) throw refused('This passkey was not accepted.');
    const { credential, credentialBackedUp } = verified.registrationInfo;
    // The id kept is the authenticator data's (§7.1 step 24): it must be the answer's, checked above
    // (at most 1023 bytes, §7.1 step 25), or a passkey would be kept under an id that no sign-in,
    // rename or deletion can name (a slot of maxPerUser taken for good, left behind when the user goes).
    if (credential.id !== answer.id) throw refused('This passkey was not accepted: its credential id is not the one the browser gave.');
    const mine = await this.#stored(user.id);
    // Counted again at the end: two ceremonies begun at once cannot pass the bound by more than their own.
    if (mine.length >= this.maxPerUser) throw this.#full(mine.length);
    await this.#spend(s);
    const now = this.#o.baton.now();
    const stored: Stored = {
      id: credential.id,
      publicKey: Buffer.from(credential.publicKey).toString('base64url'),
      counter: credential.counter,
      transports: (Array.isArray(answer.response.transports) ? (answer.response.transports as unknown[]) : [])
        .filter((t): t is AuthenticatorTransport => typeof t === 'string' && TRANSPORTS.has(t))
        .slice(0, 8),
      name,
      createdAt: now,
      backedUp: credentialBackedUp,
    };
    // §7.1 step 26: a credential id registered already is refused (the user's own; another user's
    // is found only under that user's handle, with that user's key).
    if (!(await this.#o.store.putRecord(passkeyKind(user.id), credential.id, JSON.stringify(stored), { ifAbsent: true })))
      throw refused('This passkey is registered already.');
    // What a deleted passkey of this id may have left (a sign-in that raced its deletion) is replaced.
    await this.#o.store.putRecord(passkeyUseKind(user.id), credential.id, JSON.stringify(useOf(stored)));
    this.#o.baton.audit({ type: 'passkey.registered', user: user.id, credential: credential.id, ...(o.ip ? { ip: o.ip } : {}) });
    return info(stored);
  }

  async signInOptions(): Promise<Ceremony<Awaited<ReturnType<typeof generateAuthenticationOptions>>>> {
    // Nothing is read or written: the challenge travels sealed in the state.
    const options = await generateAuthenticationOptions({ rpID: this.rpId, userVerification: 'required', timeout: this.#o.challengeTtlMs });
    return { options, state: await this.#state({ k: 'a', c: options.challenge }) };
  }

  async signIn(response: unknown, state: string, o: { ip?: string } = {}): Promise<{ userId: string; passkey: PasskeyInfo }> {
    // Cheap checks first: the answer's shape, the sealed state, the user handle; then one store read; only then the signature.
    const answer = answerOf<AuthenticationResponseJSON>(response, ['clientDataJSON', 'authenticatorData', 'signature', 'userHandle']);
    const s = await this.#open(state, 'a');
    const userId = Buffer.from(answer.response.userHandle as string, 'base64url').toString('utf8');
    if (!USER_ID.test(userId)) throw refused('This passkey is not one of this service’s (its user handle is not a user id).');
    const stored = await storedOne(this.#o.store, userId, answer.id);
    if (stored === null) throw refused('This passkey is not registered here (it may have been deleted): sign in another way.');
    let verified;
    try {
      verified = await verifyAuthenticationResponse({
        response: answer,
        expectedChallenge: s.c,
        expectedOrigin: [...this.origins],
        expectedRPID: this.rpId,
        // The counter is checked below, so that a clone is told from any other refusal and recorded.
        credential: { id: stored.id, publicKey: Buffer.from(stored.publicKey, 'base64url'), counter: 0, transports: stored.transports },
        requireUserVerification: true,
      });
    } catch (err) {
      throw refused(`This passkey was not accepted: ${(err as Error).message}`.slice(0, 300), err);
    }
    if (!verified.verified) throw refused('This passkey was not accepted.');
    const counter = verified.authenticationInfo.newCounter;
    // Spent before the counter is read: the same answer again (a retry, a double submission, a
    // replay) is "already used", not taken for a copy of the authenticator and recorded as one.
    await this.#spend(s);
    // §6.1.1 and §7.2 step 22: a counter that did not grow (either one non-zero) means two copies
    // of the key exist — refused and recorded. Both 0: an authenticator that does not count (synced passkeys).
    if ((counter !== 0 || stored.counter !== 0) && counter <= stored.counter) {
      this.#o.baton.audit({ type: 'passkey.cloned', user: userId, credential: stored.id, reason: 'counter_went_back', ...(o.ip ? { ip: o.ip } : {}) });
      throw refused('This passkey’s signature counter went backwards, which a copied authenticator does: it was refused. Sign in another way.');
    }
    // Read, then written: two sign-ins at the same moment may keep the smaller counter (the next one then still grows past it).
    const updated: Stored = { ...stored, counter, lastUsedAt: this.#o.baton.now(), backedUp: verified.authenticationInfo.credentialBackedUp };
    // Only the mutable part: the passkey's own record is never written again, so a deletion that
    // landed while this answer was checked stays a deletion.
    await this.#o.store.putRecord(passkeyUseKind(userId), stored.id, JSON.stringify(useOf(updated)));
    // Deleted while its answer was checked (the user, an operator, the user's removal): no sign-in.
    if ((await this.#o.store.getRecord(passkeyKind(userId), stored.id)) === null) {
      await this.#o.store.deleteRecord(passkeyUseKind(userId), stored.id);
      throw refused('This passkey is not registered here (it was deleted): sign in another way.');
    }
    return { userId, passkey: info(updated) };
  }

  list(userId: string): Promise<PasskeyInfo[]> {
    return passkeyRecords.list(this.#o.store, userId);
  }

  async rename(userId: string, id: string, name: string): Promise<PasskeyInfo> {
    const renamed = await passkeyRecords.rename(this.#o.store, userId, id, name);
    this.#o.baton.audit({ type: 'passkey.renamed', user: userId, credential: id });
    return renamed;
  }

  async remove(userId: string, id: string): Promise<boolean> {
    const gone = await passkeyRecords.remove(this.#o.store, userId, id);
    if (gone) this.#o.baton.audit({ type: 'passkey.removed', user: userId, credential: id });
    return gone;
  }

  async removeAll(userId: string): Promise<number> {
    let n = 0;
    for (const p of await this.#stored(userId)) if (await this.remove(userId, p.id)) n += 1;
    return n;
  }
}
