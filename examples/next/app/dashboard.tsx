/**
 * The signed-in page, rendered on the server: who is signed in (verified here, never refreshed:
 * the proxy did that before the render) and ITEMS items from the protected route handler, fetched
 * in parallel during the render with the request's cookies.
 */
import { Suspense } from 'react';
import { headers } from 'next/headers';
import { baton, self, userName } from '../lib/baton';
import { RecordActivity, SessionPanel, SignOutButton } from './session-panel';

const ITEMS = 20;

async function Item({ n }: { n: number }) {
  const cookie = (await headers()).get('cookie') ?? '';
  const res = await fetch(`${self}/api/items/${n}`, { headers: { cookie }, cache: 'no-store' });
  const body = (await res.json()) as { name?: string; reason?: string | null };
  return res.ok ? (
    <li data-item={n} data-ok="true">
      item {n} for {body.name}
    </li>
  ) : (
    <li data-item={n} data-ok="false">
      item {n}: {res.status} {body.reason ?? ''}
    </li>
  );
}

export async function Dashboard({ page }: { page: string }) {
  const state = await baton.auth();
  if (state.status === 'unavailable') {
    return (
      <main>
        <h1 data-unavailable>Still signed in, but the sign-in service cannot be reached</h1>
        <p>{state.description}</p>
      </main>
    );
  }
  if (state.status === 'signed-out') {
    return (
      <main>
        <h1 data-signed-out={state.reason ?? ''}>Signed out: {state.reason ?? 'not signed in'}</h1>
        <p>
          {state.description} — <a href="/login">Sign in</a>
        </p>
      </main>
    );
  }
  const name = await userName(state.claims.sub, state.accessToken);
  return (
    <main data-page={page}>
      <h1 data-user={name}>Signed in as {name}</h1>
      <ul>
        {Array.from({ length: ITEMS }, (_, n) => (
          <Suspense key={n} fallback={<li>item {n}…</li>}>
            <Item n={n} />
          </Suspense>
        ))}
      </ul>
      <SessionPanel />
      <RecordActivity />
      <SignOutButton />
    </main>
  );
}
