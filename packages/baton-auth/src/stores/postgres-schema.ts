/**
 * The PostgreSQL store's schema, as versioned migrations. Each decision is a PL/pgSQL function,
 * so it runs in one round trip and one transaction with the session row locked; revocations are
 * logged in the same transaction and announced with `pg_notify`, which PostgreSQL delivers only
 * on commit.
 */

import { MIGRATIONS_1_TO_4 } from './postgres-migrations-1-4.ts';
import { MIGRATIONS_5_TO_10 } from './postgres-migrations-5-10.ts';

export { CHANNEL } from './postgres-migrations-1-4.ts';

/** Every migration in order; a store runs those past the version it records. */
export const MIGRATIONS: string[] = [...MIGRATIONS_1_TO_4, ...MIGRATIONS_5_TO_10];
