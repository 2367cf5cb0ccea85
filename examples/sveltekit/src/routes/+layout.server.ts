import { batonLoad } from 'baton-auth/sveltekit';
import type { LayoutServerLoad } from './$types';

// The session as the server found it (refreshed by the handle when it had to be): no token in it.
export const load: LayoutServerLoad = (event) => ({ session: batonLoad(event) });
