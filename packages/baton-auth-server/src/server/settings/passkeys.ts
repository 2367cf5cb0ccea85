/**
 * Passkeys (WebAuthn): the relying party ID, the origins ceremonies may come from, and how many a
 * user may have. One part of the settings table (`../settings.ts`); the RP ID and origins are
 * checked together at start by the library's own check (`checkPasskeyConfig`).
 */
import { z } from 'zod';
import { BatonConfigError } from 'baton-auth';
import { checkPasskeyConfig } from 'baton-auth/passkeys';
import { list, whole } from './setting.ts';
import type { Setting } from './setting.ts';

/** In the order of the table (`../settings.ts`). */
export const PASSKEY_SETTINGS: readonly Setting[] = [
  {
    env: 'BATON_PASSKEYS_RP_ID',
    option: 'passkeys.rpId',
    unset: 'passkeys off',
    doc: "The relying party ID of passkeys (WebAuthn): the service's domain or a parent of it, e.g. example.com. Set: users add passkeys on the web page and sign in with them there and on the hosted sign-in page.",
    parse: z.string().min(1, { message: 'BATON_PASSKEYS_RP_ID must be a domain name, e.g. example.com' }),
  },
  {
    env: 'BATON_PASSKEYS_ORIGINS',
    option: 'passkeys.origins',
    unset: "the issuer's origin",
    doc: 'The origins passkey sign-ins and registrations may come from, exactly as a browser sends them, comma- or space-separated; each on BATON_PASSKEYS_RP_ID.',
    parse: z.string(),
  },
  {
    env: 'BATON_PASSKEYS_MAX',
    option: 'passkeys.maxPerUser',
    default: '20',
    doc: 'The most passkeys one user may have (1 to 100).',
    parse: whole('BATON_PASSKEYS_MAX must be a whole number from 1 to 100', 1, 100),
  },
];

/** The passkeys of the configuration, or undefined (off); a relying party ID and origins that do not fit stop the start with a sentence. */
export function passkeysOf(
  rpId: string | undefined,
  origins: string | undefined,
  max: number,
  issuer: string,
): { rpId: string; origins: string[]; maxPerUser: number } | undefined {
  if (rpId === undefined) {
    if (origins !== undefined)
      throw new BatonConfigError('BATON_PASSKEYS_ORIGINS is set but BATON_PASSKEYS_RP_ID is not: set the relying party ID too (passkeys are off without it).');
    return undefined;
  }
  const checked = checkPasskeyConfig(rpId, origins === undefined ? [new URL(issuer).origin] : list(origins), {
    rpId: 'BATON_PASSKEYS_RP_ID',
    origins: origins === undefined ? "BATON_PASSKEYS_ORIGINS (unset: the issuer's origin)" : 'BATON_PASSKEYS_ORIGINS',
  });
  return { ...checked, maxPerUser: max };
}
