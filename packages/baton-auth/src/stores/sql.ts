/** Helpers shared by the SQL stores (SQLite, PostgreSQL). */

/** A LIKE pattern matching the keys that start with `prefix`, its wildcards escaped (`ESCAPE '\'`). */
export function likePrefix(prefix: string): string {
  return `${prefix.replace(/[\\%_]/g, '\\$&')}%`;
}
