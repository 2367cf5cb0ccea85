'use client';
// The provider holds state (hooks): a client component, which a server layout renders with the session it read.
export { BatonSessionProvider } from 'baton-auth-client/react';
