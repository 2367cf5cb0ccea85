/**
 * The key ring. Key material (algorithms, import, generation) is in `key-material.ts`, re-exported here.
 */
import { BatonConfigError } from './errors.ts';
import { B64, generateKey, importKey, USE_NAME, useOf } from './key-material.ts';
import type { KeyAlg, KeyInput, KeyStatus, KeyUse, PublicJwk, RingKey } from './key-material.ts';

export { generateKey, importKey } from './key-material.ts';
export type { EncryptionAlg, KeyAlg, KeyInput, KeyStatus, KeyUse, PublicJwk, RingKey, SigningAlg } from './key-material.ts';

/**
 * The keys that sign, encrypt and verify tokens: one active key per use (signing, encryption,
 * refresh tokens), keys published ahead of use, retired keys that keep verifying until the tokens
 * they made expire (the retention of their use), then leave the ring.
 */
export class KeyRing {
  readonly #keys = new Map<string, RingKey>();
  #version = 0;
  /** How long a retired key of each use still verifies after it retired, in ms; absent: until removed. */
  #retention: Partial<Record<KeyUse, number>> = {};
  readonly #removed = new Set<(kids: string[]) => void>();
  /** Kids taken out of service here: a saved copy that still lists one never brings it back. */
  readonly #revoked = new Set<string>();
  /**
   * Keys taken out of service, and when, for as long as their tokens could otherwise live: never
   * to accept anything, only to tell the holder of a token they made why it no longer works.
   */
  readonly #graveyard = new Map<string, { key: RingKey; at: number }>();

  /** Changes whenever the ring does, so that caches of resolved keys know to drop themselves. */
  get version(): number {
    return this.#version;
  }

  constructor(keys: readonly KeyInput[]) {
    if (!Array.isArray(keys) || keys.length === 0) {
      throw new BatonConfigError("`keys` must list at least one key, e.g. `keys: [generateKey('HS256')]`.");
    }
    const statuses = KeyRing.#statuses(keys);
    keys.forEach((input, i) => {
      if (this.#keys.has(input.kid)) throw new BatonConfigError(`Two keys share the kid ${JSON.stringify(input.kid)}; every kid must be unique.`);
      this.#keys.set(input.kid, importKey(input, statuses[i] as KeyStatus));
    });
    const signer = this.active('sig');
    if (signer === undefined) throw new BatonConfigError("No signing key is active: mark one HS256, ES256, EdDSA, RS256 or PS256 key `status: 'active'`.");
    if (signer.signKey === undefined) throw new BatonConfigError(`The active key ${JSON.stringify(signer.kid)} has no private key, so it cannot sign.`);
  }

  /**
   * Sets how long retired keys of each use keep verifying after they retired (ms): the longest
   * lifetime of a token they made, plus the clock leeway. Past it a retired key verifies nothing,
   * leaves the JWKS, and `prune` drops it.
   */
  setRetention(retention: Partial<Record<KeyUse, number>>): void {
    this.#retention = { ...retention };
  }

  /** False for a retired key past its retention: nothing it made can still be valid. */
  usable(key: RingKey, now: number): boolean {
    if (key.status !== 'retired' || key.retiredAt === undefined) return true;
    const keep = this.#retention[key.use];
    return keep === undefined || now < key.retiredAt + keep;
  }

  /** Calls `listener` with the kids of keys that left the ring (verified-token caches drop what they signed). */
  onRemove(listener: (kids: string[]) => void): () => void {
    this.#removed.add(listener);
    return () => this.#removed.delete(listener);
  }

  #notifyRemoved(kids: string[]): void {
    if (kids.length === 0) return;
    this.#version++;
    for (const listener of this.#removed) listener(kids);
  }

  /** The status of each key: as given, else `active` for the first key of its use and `retired` after it. */
  static #statuses(keys: readonly KeyInput[]): KeyStatus[] {
    const seenActive = new Set<string>();
    return keys.map((input) => {
      const use = useOf(input);
      const status = input.status ?? (seenActive.has(use) ? 'retired' : 'active');
      if (status === 'active') {
        if (seenActive.has(use))
          throw new BatonConfigError(`Only one ${USE_NAME[use] ?? use} key may be active; key ${JSON.stringify(input.kid)} is a second one.`);
        seenActive.add(use);
      }
      return status;
    });
  }

  /** The key a token names in its `kid` header, if the ring has it. */
  get(kid: string): RingKey | undefined {
    return this.#keys.get(kid);
  }

  /** The active key of a use (`sig` signs JWTs, `enc` encrypts JWEs, `refresh` MACs refresh tokens). */
  active(use: KeyUse): RingKey | undefined {
    for (const key of this.#keys.values()) if (key.status === 'active' && key.use === use) return key;
    return undefined;
  }

  /** All keys, in insertion order. */
  list(): RingKey[] {
    return [...this.#keys.values()];
  }

  /**
   * Adds a key as `next` (published in JWKS now, active at the next `rotate()`) or `retired`
   * (verifies only); `promote` makes a key active.
   */
  add(input: KeyInput, status: Exclude<KeyStatus, 'active'> = 'next'): RingKey {
    if (this.#keys.has(input.kid)) throw new BatonConfigError(`A key with kid ${JSON.stringify(input.kid)} is already in the ring.`);
    const key = importKey(input, status);
    this.#keys.set(key.kid, key);
    this.#version++;
    return key;
  }

  /**
   * Rotates the key of a use: the published `next` key of `alg` (or a new one, when the algorithm
   * changes) becomes active, the active key retires, a fresh `next` key is published so that
   * verifiers see it before it signs, and keys past their retention leave the ring.
   */
  rotate(alg: KeyAlg, now: number, use: KeyUse = alg === 'dir' ? 'enc' : 'sig'): { active: RingKey; next: RingKey; dropped: string[] } {
    let next = this.list().find((k) => k.status === 'next' && k.use === use && k.alg === alg);
    next ??= this.add(generateKey(alg, undefined, use));
    this.promote(next.kid, now);
    for (const stale of this.list().filter((k) => k.status === 'next' && k.use === use && k.alg !== alg)) this.#keys.delete(stale.kid);
    const upcoming = this.add(generateKey(alg, undefined, use));
    return { active: next, next: upcoming, dropped: this.prune(now) };
  }

  /**
   * Takes a key out of the ring at once (a compromised key): nothing it signed verifies any more.
   * An active key is first replaced by its published successor (or a new key of the same kind),
   * so that signing never stops. Returns false when the ring has no such key.
   */
  remove(kid: string, now: number): boolean {
    const key = this.#keys.get(kid);
    if (key === undefined) return false;
    if (key.status === 'active') this.rotate(key.alg, now, key.use);
    return this.drop(kid, now);
  }

  /**
   * Takes a key out as another instance did (`remove` there, announced through the store). An
   * active key is replaced by its published successor, the key `remove` promoted over there, so
   * that signing goes on and every instance signs with the same key; no key is made here (the new
   * `next` comes with the saved ring). False when absent.
   */
  drop(kid: string, at: number): boolean {
    this.#revoked.add(kid);
    const key = this.#keys.get(kid);
    if (key === undefined) return false;
    if (key.status === 'active') {
      const next =
        this.list().find((k) => k.status === 'next' && k.use === key.use && k.alg === key.alg) ??
        this.list().find((k) => k.status === 'next' && k.use === key.use);
      if (next !== undefined) this.promote(next.kid, at);
    }
    this.#keys.delete(kid);
    this.#graveyard.set(kid, { key, at });
    this.#notifyRemoved([kid]);
    return true;
  }

  /** Makes `kid` the active key of its use and retires the previous one at `now`. */
  promote(kid: string, now: number): void {
    const key = this.#keys.get(kid);
    if (key === undefined) throw new BatonConfigError(`No key with kid ${JSON.stringify(kid)} in the ring.`);
    if (key.signKey === undefined) throw new BatonConfigError(`Key ${JSON.stringify(kid)} has no private key, so it cannot become active.`);
    const current = this.active(key.use);
    if (current !== undefined && current !== key) {
      current.status = 'retired';
      current.retiredAt = now;
    }
    key.status = 'active';
    key.retiredAt = undefined;
    this.#version++;
  }

  /**
   * Brings the ring in line with a saved copy (another instance rotated): new keys are added
   * (unless past their retention), statuses follow, keys the copy no longer has are dropped.
   * Returns whether anything changed.
   */
  sync(saved: readonly KeyInput[], now: number): boolean {
    let changed = false;
    const kids = new Set(saved.map((k) => k.kid));
    const statuses = KeyRing.#statuses(saved);
    for (const [i, input] of saved.entries()) {
      const status = statuses[i] as KeyStatus;
      const key = this.#keys.get(input.kid);
      if (key === undefined) {
        if (this.#revoked.has(input.kid)) continue; // taken out of service: it stays out
        const added = importKey(input, status);
        if (!this.usable(added, now)) continue; // past its retention: it stays out
        this.#keys.set(input.kid, added);
        changed = true;
      } else if (key.status !== status || key.retiredAt !== input.retiredAt) {
        key.status = status;
        key.retiredAt = input.retiredAt;
        changed = true;
      }
    }
    const removed = [...this.#keys.keys()].filter((kid) => !kids.has(kid) || this.#revoked.has(kid));
    for (const kid of removed) this.#keys.delete(kid);
    if (changed) this.#version++;
    this.#notifyRemoved(removed);
    return changed || removed.length > 0;
  }

  /** The keys of `use` taken out of service (`remove`, `drop`), with when, while a token they made could otherwise still be valid. */
  revokedKeys(use: KeyUse, now: number): { key: RingKey; at: number }[] {
    const out: { key: RingKey; at: number }[] = [];
    for (const [kid, entry] of this.#graveyard) {
      const keep = this.#retention[entry.key.use];
      if (keep !== undefined && now >= entry.at + keep) this.#graveyard.delete(kid);
      else if (entry.key.use === use) out.push(entry);
    }
    return out;
  }

  /** Drops retired keys past their retention: no token they made can still be valid. Returns their kids. */
  prune(now: number): string[] {
    const dropped = this.list()
      .filter((key) => !this.usable(key, now))
      .map((key) => key.kid);
    for (const kid of dropped) this.#keys.delete(kid);
    this.#notifyRemoved(dropped);
    return dropped;
  }

  /**
   * The public JWKS document (RFC 7517 §5): asymmetric signing keys still able to verify at `now`;
   * secrets never leave.
   */
  jwks(now: number): { keys: PublicJwk[] } {
    const keys: PublicJwk[] = [];
    for (const key of this.#keys.values()) {
      if (key.use !== 'sig' || key.alg === 'HS256' || !this.usable(key, now)) continue;
      keys.push({ ...key.verifyKey.export({ format: 'jwk' }), kid: key.kid, alg: key.alg, use: 'sig' });
    }
    return { keys };
  }

  /** The ring as configuration, private material included, for a store that keeps the keys. */
  export(): KeyInput[] {
    return this.list().map((key) => {
      const out: KeyInput = { kid: key.kid, alg: key.alg, status: key.status };
      if (key.use === 'refresh') out.use = key.use;
      if (key.retiredAt !== undefined) out.retiredAt = key.retiredAt;
      if (key.alg === 'HS256' || key.alg === 'dir') out.secret = B64 + key.verifyKey.export().toString('base64url');
      else if (key.signKey) out.privateKey = key.signKey.export({ format: 'jwk' });
      else out.publicKey = key.verifyKey.export({ format: 'jwk' });
      return out;
    });
  }
}
