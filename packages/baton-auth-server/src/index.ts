/**
 * The Baton token service, to embed or to test against. Import from `baton-auth-server`; the
 * `baton` command (`baton serve`) is the usual way to run it.
 * @packageDocumentation
 */
export { connectStore, createEngine, createService, initStore, openStore, users } from './server/app.ts';
export { startServer } from './server/http-server.ts';
export type { Service } from './server/app.ts';
export { bootstrapClients, clients, DEFAULT_CLIENT, storeClients } from './server/clients.ts';
export { loadConfig } from './server/config.ts';
/** @deprecated `BatonConfigError` from `baton-auth/errors`: the service's configuration errors are the library's. */
export { BatonConfigError as ConfigError } from 'baton-auth';
export type { ServerConfig } from './server/config.ts';
export { generateSecret, openCustody, readRing, rotateSecret, saveRing } from './server/custody.ts';
export type { Custody, ServiceSecret } from './server/custody.ts';
export type { User } from './server/users.ts';
