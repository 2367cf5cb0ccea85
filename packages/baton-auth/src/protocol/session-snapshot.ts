export type SessionSnapshot =
  { status: 'signed-in'; sub: string; name?: string; scope: string; expiresAt: number } | { status: 'signed-out'; reason: string | null; description: string };
