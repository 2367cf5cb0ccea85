/**
 * A throwaway PostgreSQL database per test file, created before and dropped after: named per run
 * (`<name>_<pid>_<random>`), so that two runs on one server never meet, and only the database
 * this run created is ever dropped.
 */
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { afterAll, beforeAll } from 'vitest';

const ADMIN = process.env.BATON_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** Registers the hooks and returns the database's URL. */
export function useTestDatabase(name: string): string {
  const db = `${name}_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = () => postgres(ADMIN, { onnotice: () => undefined });
  beforeAll(async () => {
    const sql = admin();
    await sql.unsafe(`CREATE DATABASE ${db}`);
    await sql.end();
  });
  afterAll(async () => {
    const sql = admin();
    await sql.unsafe(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
    await sql.end();
  });
  return ADMIN.replace(/\/[^/]*$/, `/${db}`);
}
