/**
 * Red team (passkeys): a registration kept the credential id of its authenticator data, never
 * compared with the answer's `id` (the one checked for shape). An answer whose authenticator data
 * named a 3-byte id, or a 1,100-byte one, was kept under an id no sign-in, rename or deletion can
 * name (each refuses an id outside 16 to 1,364 base64url characters): a slot of `maxPerUser` taken
 * for good, `baton users passkeys … delete` answering "Deleted" while deleting nothing, and the record
 * left behind when the user is removed (and on PostgreSQL, a key past the index's row size is a 500).
 * Fixed: the authenticator data's id must be the answer's; transports are kept only when they are ones.
 */
import { describe, expect, it } from 'vitest';
import { isoCBOR } from '@simplewebauthn/server/helpers';
import { codeOf } from '../support/baton.ts';
import { passkeysHarness } from './passkeys-harness.ts';

/** The registration answer with its authenticator data's credential id replaced by `id`. */
function withCredentialId(answer: { response: { attestationObject: string } }, id: Buffer) {
  const att = isoCBOR.decodeFirst<Map<string, unknown>>(Buffer.from(answer.response.attestationObject, 'base64url'));
  const authData = Buffer.from(att.get('authData') as Uint8Array);
  const oldLen = authData.readUInt16BE(53);
  const len = Buffer.alloc(2);
  len.writeUInt16BE(id.length);
  att.set('authData', Buffer.concat([authData.subarray(0, 53), len, id, authData.subarray(55 + oldLen)]));
  return { ...answer, response: { ...answer.response, attestationObject: Buffer.from(isoCBOR.encode(att as never)).toString('base64url') } };
}

describe('red team: the credential id a registration keeps', () => {
  it.each([
    ['3 bytes', 3],
    ['1,100 bytes', 1100],
    ['another 32 bytes', 32],
  ])('an authenticator data id other than the answer’s (%s) is refused, nothing kept', async (_label, size) => {
    const t = passkeysHarness();
    const key = t.authenticator();
    expect(await codeOf(t.register(key, 'usr_alice', (a) => withCredentialId(a, Buffer.alloc(size, 7))))).toBe('ERR_PASSKEY_REFUSED');
    expect(await t.raw.listRecords('passkeys:usr_alice')).toEqual([]);
    // The honest answer of the same authenticator is kept, and can be deleted.
    await t.register(key);
    expect((await t.passkeys.list('usr_alice')).map((p) => p.id)).toEqual([key.id]);
    expect(await t.passkeys.remove('usr_alice', key.id)).toBe(true);
  });

  it('transports are kept only when they are transports', async () => {
    const t = passkeysHarness();
    const key = t.authenticator();
    const passkey = await t.register(key, 'usr_alice', (a) => ({
      ...a,
      response: { ...a.response, transports: ['internal', 'x'.repeat(5000), { evil: 1 }, 'hybrid'] },
    }));
    expect(passkey.transports).toEqual(['internal', 'hybrid']);
  });
});
