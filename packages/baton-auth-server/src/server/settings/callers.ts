/**
 * Who may use the service, and for what: the browser pages (the refresh cookie, other origins), the APIs and scopes
 * tokens may be asked for, and the resource server that introspects them. One part of the settings table (`../settings.ts`).
 */
import { z } from 'zod';
import { checkScopes } from 'baton-auth';
import { checkOrigins, checkResources } from 'baton-auth/http';
import { byLibrary, list, secret } from './setting.ts';
import type { Setting } from './setting.ts';

/** In the order of the table (`../settings.ts`). */
export const CALLER_SETTINGS: readonly Setting[] = [
  {
    env: 'BATON_COOKIE_SECURE',
    option: 'cookieSecure',
    default: 'true',
    doc: 'Secure refresh cookies; false only for a plain-http localhost issuer.',
    parse: z.enum(['true', 'false', '1', '0', 'on', 'off'], { message: 'BATON_COOKIE_SECURE must be true or false' }),
  },
  {
    env: 'BATON_ALLOWED_ORIGINS',
    option: 'allowedOrigins',
    default: '',
    doc: "Origins besides the issuer's whose pages may call the endpoints, read their answers (CORS) and use the refresh cookie; comma- or space-separated.",
    parse: byLibrary((v) => checkOrigins(list(v), 'BATON_ALLOWED_ORIGINS')),
  },
  {
    env: 'BATON_RESOURCES',
    option: 'resources',
    default: '',
    doc: 'The APIs (RFC 8707 resource URIs) tokens may be asked for; comma- or space-separated.',
    parse: byLibrary((v) => checkResources(list(v), 'BATON_RESOURCES')),
  },
  {
    env: 'BATON_SCOPES',
    option: 'scopes',
    unset: "the registered clients' scopes, read at start",
    doc: 'The scopes advertised as scopes_supported (RFC 6749 §3.3 names); comma- or space-separated.',
    parse: byLibrary((v) => checkScopes(list(v), 'BATON_SCOPES')),
  },
  {
    env: 'BATON_INTROSPECTION_SECRET',
    option: 'introspectionSecret',
    doc: 'Registers the confidential client resource-server with this secret (at least 32 characters), to introspect and follow the revocation feed.',
    parse: secret('BATON_INTROSPECTION_SECRET'),
  },
];
