/**
 * Where the service keeps its data, and the secret that seals the keys in it. One part of the settings table (`../settings.ts`).
 */
import { z } from 'zod';
import { secret } from './setting.ts';
import type { Setting } from './setting.ts';

/** In the order of the table (`../settings.ts`). */
export const STORE_SETTINGS: readonly Setting[] = [
  {
    env: 'BATON_STORE',
    option: 'store',
    default: 'sqlite:./data/baton.sqlite',
    doc: 'Where sessions, keys, users and clients live: sqlite:<path>, memory:, redis://…, rediss://…, redis+cluster://host:port,…, postgres://… (percent-encode / ? # @ : in a password).',
    parse: z.string().regex(/^(sqlite:.+|memory:|rediss?:\/\/.+|redis\+cluster:\/\/.+|postgres(ql)?:\/\/.+)$/, {
      message: 'BATON_STORE must be sqlite:<path>, memory:, redis://…, rediss://…, redis+cluster://host:port,… or postgres://…',
    }),
  },
  {
    env: 'BATON_SECRET',
    option: 'secret',
    unset: `with SQLite, a file data/baton.secret made on first start`,
    doc: 'The service secret that seals the keys in the store (at least 32 characters; `baton secret generate`).',
    parse: secret('BATON_SECRET'),
  },
  { env: 'BATON_SECRET_FILE', option: 'secretFile', doc: 'A file holding the service secret, instead of BATON_SECRET.', parse: z.string().min(1) },
];
