'use client';
// The provider holds state (hooks): a client component, which a server layout renders with the session it read.
// (baton-auth-client/react's modules carry no 'use client' directive of their own.)
export { BatonSessionProvider } from 'baton-auth-client/react';
