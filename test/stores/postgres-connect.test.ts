/**
 * A connection lost while the driver sets itself up must not become an unhandled rejection (which
 * ends a Node process: the service on PostgreSQL died when the network dropped a connection at
 * the wrong moment; the fresh-clone CI run of 2026-12-07 caught one in test/server/outage-postgres).
 * postgres.js, by default, asks for every array type right after each connect, from a socket
 * handler that drops the query's promise. A proxy here cuts any connection that asks.
 */
import { createConnection, createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { postgresStore } from 'baton-auth/stores/postgres';
import { sampleSession } from '../../packages/baton-auth/src/stores/conformance/support.ts';
import { useTestDatabase } from '../support/postgres-db.ts';

const database = useTestDatabase('baton_connect');

/** Forwards to PostgreSQL, and cuts a connection whose client sends a query on pg_type. */
async function typeQueryCutter(): Promise<{ port: number; cuts: () => number; close: () => Promise<void> }> {
  let cuts = 0;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = createConnection(5432, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined).on('close', () => sockets.delete(s));
    }
    client.on('data', (chunk: Buffer) => {
      if (chunk.includes('pg_catalog.pg_type')) {
        cuts++;
        client.destroy();
        upstream.destroy();
        return;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    cuts: () => cuts,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('the PostgreSQL store connecting', () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  afterAll(() => void process.off('unhandledRejection', onUnhandled));

  it('sends no query a lost connection would leave unhandled, and still reads what it stores (evicted sessions)', async () => {
    const proxy = await typeQueryCutter();
    const url = new URL(database);
    url.port = String(proxy.port);
    const store = postgresStore({ url: url.toString() });
    try {
      const now = Date.now();
      const first = sampleSession(now, { userId: 'pat' });
      await store.createSession(first, { now, revocationTtlMs: 60_000, maxSessionsPerUser: 1 });
      const second = sampleSession(now + 1, { userId: 'pat' });
      const { evicted } = await store.createSession(second, { now: now + 1, revocationTtlMs: 60_000, maxSessionsPerUser: 1 });
      expect(evicted).toEqual([first.id]); // a text[] from SQL, read back as a list
      await new Promise((r) => setTimeout(r, 100)); // a rejection is reported on a later turn
      expect([proxy.cuts(), unhandled]).toEqual([0, []]);
    } finally {
      await store.close();
      await proxy.close();
    }
  });
});
