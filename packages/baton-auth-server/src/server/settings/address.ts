/**
 * The service's address and name: the port and address it listens on, and the issuer (`iss`) it signs as. One part of the settings table (`../settings.ts`).
 */
import { z } from 'zod';
import { whole } from './setting.ts';
import type { Setting } from './setting.ts';

/** In the order of the table (`../settings.ts`). */
export const ADDRESS_SETTINGS: readonly Setting[] = [
  {
    env: 'PORT',
    option: 'port',
    default: '3000',
    doc: 'The port to listen on; 0 picks a free one.',
    parse: whole('PORT must be a port number from 1 to 65535, or 0 for a free one', 0, 65535),
  },
  { env: 'HOST', option: 'host', default: '127.0.0.1', doc: 'The address to listen on.', parse: z.string().min(1, { message: 'HOST must be an address' }) },
  {
    env: 'BATON_ISSUER',
    option: 'issuer',
    unset: 'http://HOST:PORT',
    doc: 'The public URL of the service, its `iss`. Several instances on one store must share one: set it.',
    parse: z.string().url({ message: 'BATON_ISSUER must be a URL, e.g. https://auth.example.com' }),
  },
];
