/**
 * The tokens and sessions the service issues: lifetimes, the refresh grace and rate, sessions per user, the token
 * format and the signing algorithm. One part of the settings table (`../settings.ts`).
 */
import { z } from 'zod';
import { MAX_SESSIONS_PER_USER } from 'baton-auth';
import { duration, perWindow, whole } from './setting.ts';
import type { Setting } from './setting.ts';

/** In the order of the table (`../settings.ts`). */
export const TOKEN_SETTINGS: readonly Setting[] = [
  {
    env: 'BATON_ACCESS_TTL',
    option: 'accessTokenTtl',
    default: '15m',
    doc: 'Access-token lifetime: seconds or a duration (90s, 15m, 1d).',
    parse: duration('BATON_ACCESS_TTL'),
  },
  {
    env: 'BATON_REFRESH_TTL',
    option: 'refreshTokenTtl',
    default: '14d',
    doc: 'Refresh-token idle lifetime: seconds or a duration; longer than BATON_ACCESS_TTL.',
    parse: duration('BATON_REFRESH_TTL'),
  },
  {
    env: 'BATON_REFRESH_GRACE',
    option: 'refreshGrace',
    default: '10s',
    doc: 'How long a just-rotated refresh token still gets the current pair (racing tabs, lost responses); keep it to seconds: over a minute is warned of.',
    parse: duration('BATON_REFRESH_GRACE'),
  },
  {
    env: 'BATON_REFRESH_RATE',
    option: 'refreshRateLimit',
    default: '30/1m',
    doc: "Rotations allowed per session and window, as <count>/<duration> (30/1m, 1000/1d), or 'off'.",
    parse: perWindow('BATON_REFRESH_RATE', "refreshes per window, like '30/1m' or '1000/1d'"),
  },
  {
    env: 'BATON_MAX_SESSIONS',
    option: 'maxSessionsPerUser',
    default: '50',
    doc: `Sessions per user, the oldest evicted beyond it: 1 (one device) to ${MAX_SESSIONS_PER_USER}. There is no unlimited setting: a login, the device list and "log out everywhere" read all of a user's sessions.`,
    parse: whole(
      `BATON_MAX_SESSIONS must be a whole number from 1 (one device) to ${MAX_SESSIONS_PER_USER}: a user's logins, device list and "log out everywhere" read all the user's sessions, so there is no unlimited setting (0 no longer means no limit)`,
      1,
      MAX_SESSIONS_PER_USER,
    ),
  },
  {
    env: 'BATON_TOKEN_FORMAT',
    option: 'tokenFormat',
    default: 'jwt',
    doc: 'Access tokens as jwt, jwe or opaque.',
    parse: z.enum(['jwt', 'jwe', 'opaque'], { message: 'BATON_TOKEN_FORMAT must be jwt, jwe or opaque' }),
  },
  {
    env: 'BATON_ALG',
    option: 'alg',
    default: 'EdDSA',
    doc: "The signing algorithm of new keys: EdDSA, ES256, RS256 (RFC 9068's must), PS256 or HS256.",
    parse: z.enum(['HS256', 'ES256', 'EdDSA', 'RS256', 'PS256'], { message: 'BATON_ALG must be HS256, ES256, EdDSA, RS256 or PS256' }),
  },
];
