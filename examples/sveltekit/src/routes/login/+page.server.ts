import { fail, redirect } from '@sveltejs/kit';
import { batonSignIn } from 'baton-auth/sveltekit';
import type { Actions } from './$types';

export const actions: Actions = {
  default: async (event) => {
    const form = await event.request.formData();
    const state = await batonSignIn(event, form);
    if (state.status !== 'signed-in')
      return fail(state.status === 'unavailable' ? 503 : 400, { message: state.description, username: String(form.get('username') ?? '') });
    redirect(303, '/');
  },
};
