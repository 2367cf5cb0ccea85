/**
 * The red team's passkeys on a memory store (test/redteam/passkeys-*.test.ts): the engine, a store
 * whose calls a test may intercept (`before`), and alice's passkey registered by a software authenticator.
 */
import type { AuditEvent, BatonStore } from 'baton-auth';
import { createPasskeys } from 'baton-auth/passkeys';
import { memoryStore } from 'baton-auth/stores/memory';
import { makeBaton } from '../support/baton.ts';
import { softwareAuthenticator } from '../support/software-authenticator.ts';

export const ORIGIN = 'https://auth.test';
export const RP_ID = 'auth.test';

export function passkeysHarness() {
  const raw = memoryStore();
  /** Runs before the store method of its name (once armed), then is forgotten. */
  const before = new Map<string, (...args: unknown[]) => Promise<void>>();
  const store = new Proxy(raw, {
    get(target, name) {
      const value = Reflect.get(target, name, target) as unknown;
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        const hook = before.get(String(name));
        if (hook !== undefined) {
          before.delete(String(name));
          await hook(...args);
        }
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  }) as BatonStore;
  const audit: AuditEvent[] = [];
  const { baton, clock } = makeBaton({ store, audit: (e) => audit.push(e) });
  const passkeys = createPasskeys({ baton, store, rpId: RP_ID, origins: [ORIGIN] });
  const authenticator = () => softwareAuthenticator({ origin: ORIGIN, rpId: RP_ID });
  /** Registers `key` for `userId` (bound to session `sid`); resolves to the passkey or rejects with the refusal. */
  const register = async (
    key: ReturnType<typeof authenticator>,
    userId = 'usr_alice',
    answer: (a: ReturnType<ReturnType<typeof authenticator>['register']>) => unknown = (a) => a,
  ) => {
    const { options, state } = await passkeys.registrationOptions({ id: userId, name: userId }, 'sid-1');
    return passkeys.register({ id: userId }, answer(key.register(options)), state, { bind: 'sid-1' });
  };
  const signIn = async (key: ReturnType<typeof authenticator>, o: Parameters<ReturnType<typeof authenticator>['signIn']>[1] = {}) => {
    const { options, state } = await passkeys.signInOptions();
    return passkeys.signIn(key.signIn(options, o), state);
  };
  return { raw, store, before, audit, baton, clock, passkeys, authenticator, register, signIn };
}
