import type { ReactNode } from 'react';
import Link from 'next/link';
import { baton } from '../lib/baton';
import { BatonSessionProvider } from 'baton-auth-client/react';

export const metadata = { title: 'Baton × Next.js' };

export default async function RootLayout({ children }: { children: ReactNode }) {
  // The session the server rendered with: the client's first render uses it as it is.
  const session = await baton.session();
  return (
    <html lang="en">
      <body>
        <nav>
          <Link href="/">Home</Link> · <Link href="/activity">Activity</Link> · <Link href="/login">Sign in</Link>
        </nav>
        <BatonSessionProvider session={session} basePath="/api/auth">
          {children}
        </BatonSessionProvider>
      </body>
    </html>
  );
}
