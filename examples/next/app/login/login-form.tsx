'use client';
import { useActionState } from 'react';
import { signIn } from '../actions';

export function LoginForm() {
  const [error, action, pending] = useActionState(signIn, null);
  return (
    <form action={action}>
      <label>
        Username <input name="username" autoComplete="username" required />
      </label>
      <label>
        Password <input name="password" type="password" autoComplete="current-password" required />
      </label>
      <button type="submit" disabled={pending}>
        Sign in
      </button>
      {error && <p role="alert">{error}</p>}
    </form>
  );
}
