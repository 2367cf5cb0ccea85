/**
 * What one client may cost the service: failed logins, open connections, slow requests, and which proxies say who
 * the client is. One part of the settings table (`../settings.ts`).
 */
import { z } from 'zod';
import { duration, perWindow, whole } from './setting.ts';
import type { Setting } from './setting.ts';

/** In the order of the table (`../settings.ts`). */
export const LIMIT_SETTINGS: readonly Setting[] = [
  {
    env: 'BATON_LOGIN_FAILURES',
    option: 'loginFailures',
    default: '10/1h',
    doc: "Failed logins in a row of one username from one address, and how long that pair is then refused, as <count>/<duration>; or 'off'.",
    parse: perWindow('BATON_LOGIN_FAILURES', "failures in a row and how long they block, like '10/1h'"),
  },
  {
    env: 'BATON_LOGIN_FAILURES_PER_IP',
    option: 'loginFailuresPerIp',
    default: '100/1d',
    doc: "Failed logins from one address per period, which it is then refused for; or 'off' (both also limit introspection client authentication).",
    parse: perWindow('BATON_LOGIN_FAILURES_PER_IP', "failures and the period they count over and block for, like '100/1d'"),
  },
  {
    env: 'BATON_TRUST_PROXY',
    option: 'trustProxy',
    unset: "none: the client's address is the socket's",
    doc: 'Which proxies X-Forwarded-For to believe: a hop count (1), or addresses and CIDR ranges (10.0.0.0/8,loopback).',
    parse: z.string(),
  },
  {
    env: 'BATON_HEADERS_TIMEOUT',
    option: 'headersTimeoutMs',
    default: '10s',
    doc: 'The whole request header must arrive within this (a duration; 408 and closed otherwise).',
    parse: duration('BATON_HEADERS_TIMEOUT'),
  },
  {
    env: 'BATON_REQUEST_TIMEOUT',
    option: 'requestTimeoutMs',
    default: '30s',
    doc: 'The whole request must arrive within this (a duration, at least BATON_HEADERS_TIMEOUT).',
    parse: duration('BATON_REQUEST_TIMEOUT'),
  },
  {
    env: 'BATON_MAX_CONNECTIONS',
    option: 'maxConnections',
    default: '1000',
    doc: 'Open connections at most; more are closed on arrival.',
    parse: whole('BATON_MAX_CONNECTIONS must be a whole number of connections, at least 1', 1),
  },
  {
    env: 'BATON_MAX_CONNECTIONS_PER_ADDRESS',
    option: 'maxConnectionsPerAddress',
    unset: 'an eighth of BATON_MAX_CONNECTIONS, at least 16',
    doc: "Open connections of one client address at most (an IPv6 client by its /64); a trusted proxy's are not capped.",
    parse: whole('BATON_MAX_CONNECTIONS_PER_ADDRESS must be a whole number of connections, at least 1', 1),
  },
];
