/**
 * The sealer (authz/seal.ts): what it seals opens only unchanged, for its purpose, before its
 * expiry on the engine's clock, under a key the ring still keeps; a refresh-key rotation does not
 * break a flow in progress, a revoked key opens nothing.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createSealer, MAX_SEALED_CHARS } from '../../packages/baton-auth/src/authz/seal.ts';
import type { SealPurpose } from '../../packages/baton-auth/src/authz/seal.ts';
import { makeBaton } from '../support/baton.ts';

const PURPOSES: SealPurpose[] = ['code', 'par', 'txn', 'as', 'csrf'];

describe('createSealer', () => {
  it('opens what it sealed, for the same purpose, as base64url without padding', async () => {
    const { baton } = makeBaton();
    const sealer = createSealer(baton);
    const sealed = await sealer.seal('code', { a: 1, b: ['x'] }, 60_000);
    expect(sealed).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(await sealer.open('code', sealed)).toEqual({ a: 1, b: ['x'] });
    // Another sealer of the same engine (another instance sharing the keys) opens it too.
    expect(await createSealer(baton).open('code', sealed)).toEqual({ a: 1, b: ['x'] });
  });

  it('a value sealed for one purpose opens for no other', async () => {
    const { baton } = makeBaton();
    const sealer = createSealer(baton);
    for (const p of PURPOSES) {
      const sealed = await sealer.seal(p, { p }, 60_000);
      for (const q of PURPOSES) expect(await sealer.open(q, sealed)).toEqual(q === p ? { p } : undefined);
    }
  });

  it('any change to a sealed value — a flipped bit anywhere, a cut, an extension — opens nothing', async () => {
    const { baton } = makeBaton();
    const sealer = createSealer(baton);
    const sealed = await sealer.seal('txn', { user: 'alice', scope: ['admin'] }, 60_000);
    const raw = Buffer.from(sealed, 'base64url');
    await fc.assert(
      fc.asyncProperty(fc.nat(raw.length * 8 - 1), async (bit) => {
        const flipped = Buffer.from(raw);
        flipped[bit >> 3] = (flipped[bit >> 3] as number) ^ (1 << (bit & 7));
        expect(await sealer.open('txn', flipped.toString('base64url'))).toBeUndefined();
      }),
      { numRuns: 300 },
    );
    expect(await sealer.open('txn', sealed.slice(0, -1))).toBeUndefined();
    expect(await sealer.open('txn', `${sealed}A`)).toBeUndefined();
    expect(await sealer.open('txn', `${sealed}=`)).toBeUndefined();
    expect(await sealer.open('txn', '')).toBeUndefined();
    expect(await sealer.open('txn', 'A'.repeat(MAX_SEALED_CHARS + 1))).toBeUndefined();
  });

  it('another engine (other refresh keys) opens nothing of this one', async () => {
    const sealed = await createSealer(makeBaton().baton).seal('code', { x: 1 }, 60_000);
    expect(await createSealer(makeBaton().baton).open('code', sealed)).toBeUndefined();
  });

  it('expires on the injected clock, not the wall clock', async () => {
    const { baton, clock } = makeBaton();
    const sealer = createSealer(baton);
    const sealed = await sealer.seal('code', { x: 1 }, 60_000);
    clock.advance(59_999);
    expect(await sealer.open('code', sealed)).toEqual({ x: 1 });
    clock.advance(1);
    expect(await sealer.open('code', sealed)).toBeUndefined();
    await expect(sealer.seal('code', {}, 0)).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
  });

  it('a refresh-key rotation does not break a flow in progress: the retired key still opens, the new one seals', async () => {
    const { baton } = makeBaton();
    const sealer = createSealer(baton);
    const before = await sealer.seal('txn', { step: 1 }, 600_000);
    const oldKid = baton.keys.active('refresh')?.kid as string;
    await baton.rotateKeys('refresh');
    expect(baton.keys.active('refresh')?.kid).not.toBe(oldKid);
    expect(await sealer.open('txn', before)).toEqual({ step: 1 });
    const after = await sealer.seal('txn', { step: 2 }, 600_000);
    expect(Buffer.from(after, 'base64url').subarray(1, 5)).not.toEqual(Buffer.from(before, 'base64url').subarray(1, 5)); // another key's hint
    expect(await sealer.open('txn', after)).toEqual({ step: 2 });
    // A key taken out of service (compromised) opens nothing any more.
    expect(await baton.revokeKey(oldKid)).toBe(true);
    expect(await sealer.open('txn', before)).toBeUndefined();
    expect(await sealer.open('txn', after)).toEqual({ step: 2 });
  });

  it('a retired key opens nothing once its retention passed', async () => {
    const { baton, clock } = makeBaton({ refreshTokenTtl: '1h', leeway: 5 });
    const sealer = createSealer(baton);
    const before = await sealer.seal('as', { u: 1 }, 10 * 3_600_000);
    await baton.rotateKeys('refresh');
    expect(await sealer.open('as', before)).toEqual({ u: 1 });
    clock.advance(3_600_000 + 60_000);
    expect(await sealer.open('as', before)).toBeUndefined();
  });
});
