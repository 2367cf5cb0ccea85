/**
 * Changing the key ring at run time: rotation and revocation, each saved through the
 * `persistKeys` option before anyone else hears of it.
 */
import type { Engine } from './engine.ts';
import type { KeyAlg, KeyUse } from './keys.ts';

/** How long a key's revocation is kept in the revocation log. */
export const KEY_REVOCATION_TTL_MS = 365 * 86_400_000;

/** See `Baton.rotateKeys`. */
export async function rotateKeys(e: Engine, use: KeyUse, alg: KeyAlg | undefined): Promise<{ active: string; next: string; dropped: string[] }> {
  await e.ready();
  const ring = e.o.ring;
  const now = e.now();
  const previous = ring.active(use)?.kid;
  const { active, next, dropped } = ring.rotate(alg ?? ring.active(use)?.alg ?? (use === 'enc' ? 'dir' : 'HS256'), now, use);
  await e.o.persistKeys?.(ring);
  e.emit({ type: 'key.rotated', at: now, kid: active.kid, use, alg: active.alg, ...(previous === undefined ? {} : { previous }) });
  if (previous !== undefined) e.emit({ type: 'key.retired', at: now, kid: previous, use });
  for (const kid of dropped) e.emit({ type: 'key.dropped', at: now, kid, use });
  return { active: active.kid, next: next.kid, dropped };
}

/** See `Baton.revokeKey`. */
export async function revokeKey(e: Engine, kid: string): Promise<boolean> {
  await e.ready();
  const now = e.now();
  if (!e.o.ring.remove(kid, now)) return false;
  await e.o.persistKeys?.(e.o.ring);
  // Remembered for a year, not a token lifetime: an instance started later, or a saved ring
  // restored from before, must still leave the key out.
  await e.store.announce({ kind: 'key', id: kid, at: now, expiresAt: now + KEY_REVOCATION_TTL_MS, reason: 'key_revoked' });
  e.emit({ type: 'key.revoked', at: now, kid });
  return true;
}
