'use client';
/** What the browser sees of the session (useSession), a route handler called every second, the server action, sign-out. */
import { useActionState, useEffect, useState } from 'react';
import { useSession } from 'baton-auth-client/react';
import { recordActivity, signOut } from './actions';

export function SessionPanel() {
  const session = useSession();
  const [polls, setPolls] = useState({ ok: 0, failed: 0, last: '' });
  const { refresh } = session;
  useEffect(() => {
    const timer = setInterval(async () => {
      const res = await fetch('/api/items/poll', { cache: 'no-store' }).catch(() => undefined);
      const body = res?.ok ? ((await res.json()) as { name: string }) : undefined;
      setPolls((p) => (body ? { ok: p.ok + 1, failed: p.failed, last: body.name } : { ...p, failed: p.failed + 1 }));
      // A refused call: the session may have ended; ask the server why.
      if (!body) await refresh().catch(() => undefined);
    }, 1_000);
    return () => clearInterval(timer);
  }, [refresh]);
  return (
    <section>
      <p data-client-status={session.status}>
        {session.status === 'signed-in' ? `The browser sees the session of ${session.user?.sub}` : `Signed out: ${session.reason ?? 'not signed in'}`}
      </p>
      <p data-polls-ok={polls.ok} data-polls-failed={polls.failed}>
        Polled {polls.ok} times ({polls.failed} refused){polls.last && ` as ${polls.last}`}
      </p>
    </section>
  );
}

export function RecordActivity() {
  const [message, record, pending] = useActionState(recordActivity, '');
  return (
    <form action={record}>
      <button type="submit" disabled={pending}>
        Record activity
      </button>
      <output data-action-result>{message}</output>
    </form>
  );
}

export function SignOutButton() {
  return (
    <form action={signOut}>
      <button type="submit">Sign out</button>
    </form>
  );
}
