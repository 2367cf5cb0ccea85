// GET /api/auth/session, GET /api/auth/token, POST /api/auth/signout.
import { batonEndpoints } from 'baton-auth/sveltekit';

export const { GET, POST } = batonEndpoints();
