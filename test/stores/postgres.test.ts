import { describe, expect, it } from 'vitest';
import postgres from 'postgres';
import { postgresStore } from '../../src/stores/postgres.ts';
import { MIGRATIONS } from '../../src/stores/postgres-schema.ts';
import { runStoreConformance } from '../../src/stores/testing.ts';
import { useTestDatabase } from '../support/postgres-db.ts';

const URL = useTestDatabase('baton_test');

runStoreConformance({ describe, it }, {
  name: 'postgres',
  createStore: () => postgresStore({ url: URL }),
  createPeer: () => postgresStore({ url: URL }),
});

describe('postgres store specifics', () => {
  it('migrates once, even when several instances start together', async () => {
    const stores = Array.from({ length: 4 }, () => postgresStore({ url: URL }));
    await Promise.all(stores.map((s) => s.revocationsSince(0)));
    const sql = postgres(URL, { onnotice: () => undefined });
    expect((await sql`SELECT version FROM baton_migrations ORDER BY version`).map((r) => r.version)).toEqual(MIGRATIONS.map((_, i) => i + 1));
    await sql.end();
    await Promise.all(stores.map((s) => s.close()));
  });
});
