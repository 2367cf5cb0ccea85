// Passkeys on the web page (on @simplewebauthn/browser, served by the service as webauthn.js): sign
// in with one — offered in the username field's autofill (conditional UI) and by a button — and, once
// signed in, add, rename and delete them. Each ceremony's challenge stays in an HttpOnly cookie.
import { browserSupportsWebAuthn, browserSupportsWebAuthnAutofill, startAuthentication, startRegistration } from './webauthn.js';

/** Whether the service has passkeys (it marks the page) and the browser can use them: otherwise nothing is asked for. */
const passkeysOn = () => document.body.dataset.passkeys === 'on' && browserSupportsWebAuthn();

/** The sign-in options: the service's challenge (its sealed state in a cookie); null when passkeys are off. */
async function signInOptions() {
  const res = await fetch('auth/passkeys/sign-in-options', { method: 'POST', cache: 'no-store' });
  return res.ok ? res.json() : null;
}

/**
 * Passkey sign-in on the sign-in card: the username field offers passkeys (autofill), and the button
 * asks for one. `done(promise)` gets the sign-in (the page's `client.signIn`), `failed(err)` a refusal.
 */
export async function passkeySignIn({ client, button, beforeSignIn, done, failed }) {
  if (!passkeysOn()) return;
  const first = await signInOptions().catch(() => null);
  if (first === null) return; // the service has no passkeys
  button.hidden = false;
  const signIn = async (optionsJSON, useBrowserAutofill) => {
    const answer = await startAuthentication({ optionsJSON, useBrowserAutofill });
    await beforeSignIn();
    await client.signIn('auth/passkeys/sign-in', { credential: JSON.stringify(answer), refresh_token_delivery: 'cookie' });
  };
  const conditional = async () => {
    if (!(await browserSupportsWebAuthnAutofill())) return;
    await done(signIn(first, true));
  };
  button.onclick = async () => {
    button.disabled = true;
    try {
      const options = await signInOptions();
      if (options !== null) await done(signIn(options, false));
    } catch (err) {
      failed(err);
    } finally {
      button.disabled = false;
    }
  };
  // The autofill waits for the person to pick a passkey; a click on the button replaces it.
  conditional().catch((err) => err?.name !== 'AbortError' && failed(err));
}

/** The "Passkeys" card: the list, "Add a passkey", rename and delete. `say(kind, ...parts)` shows a message. */
export function passkeysView(client, $, say) {
  let on = passkeysOn();
  const card = $('passkeys-card');

  async function load() {
    if (!on) return;
    const res = await client.fetch('auth/passkeys').catch(() => null);
    if (res === null) return;
    if (res.status === 404) {
      on = false;
      card.hidden = true;
      return;
    }
    if (!res.ok) return;
    const { passkeys, max } = await res.json();
    card.hidden = false;
    $('passkeys').replaceChildren(...passkeys.map(item));
    $('no-passkeys').hidden = passkeys.length > 0;
    $('add-passkey').disabled = passkeys.length >= max;
    $('add-passkey').title = passkeys.length >= max ? `${max} passkeys is the most an account may have: delete one first.` : '';
  }

  function item(p) {
    const li = document.createElement('li');
    li.dataset.id = p.id;
    const label = document.createElement('div');
    const name = document.createElement('div');
    name.className = 'device';
    name.textContent = p.name;
    const meta = document.createElement('div');
    meta.className = 'muted';
    const used = p.lastUsedAt ? `last used ${new Date(p.lastUsedAt).toLocaleString()}` : 'not used yet';
    meta.textContent = `Added ${new Date(p.createdAt).toLocaleDateString()} · ${used}${p.backedUp ? ' · synced' : ''}`;
    label.append(name, meta);
    const rename = document.createElement('button');
    rename.className = 'secondary kick';
    rename.textContent = 'Rename';
    rename.setAttribute('aria-label', `Rename ${p.name}`);
    rename.onclick = () => void renamePasskey(p);
    const remove = document.createElement('button');
    remove.className = 'danger kick';
    remove.textContent = 'Delete';
    remove.setAttribute('aria-label', `Delete ${p.name}`);
    remove.onclick = () => void deletePasskey(p);
    li.append(label, rename, remove);
    return li;
  }

  /** The service's sentence of a refusal. */
  async function refusal(res) {
    const body = await res.json().catch(() => ({}));
    return body.error_description ?? `The service answered ${res.status}.`;
  }

  async function add() {
    $('add-passkey').disabled = true;
    try {
      const res = await client.fetch('auth/passkeys/registration-options', { method: 'POST' });
      if (!res.ok) return say('error', await refusal(res));
      const answer = await startRegistration({ optionsJSON: await res.json() });
      const name = `Passkey on ${navigator.userAgentData?.platform || navigator.platform || 'this device'}`;
      const saved = await client.fetch('auth/passkeys/registration', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ credential: JSON.stringify(answer), name }),
      });
      if (!saved.ok) return say('error', await refusal(saved));
      say('info', 'Passkey added: you can sign in with it now.');
    } catch (err) {
      // The person closed the browser's dialog, or the authenticator refused (already registered).
      say('error', err?.name === 'InvalidStateError' ? 'This device already has a passkey for your account.' : 'No passkey was added.');
    } finally {
      $('add-passkey').disabled = false;
      await load();
    }
  }

  async function renamePasskey(p) {
    const name = window.prompt('A name for this passkey', p.name);
    if (name === null || name.trim() === '' || name === p.name) return;
    const res = await client.fetch(`auth/passkeys/${encodeURIComponent(p.id)}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: name.trim() }),
    });
    if (!res.ok) say('error', await refusal(res));
    await load();
  }

  async function deletePasskey(p) {
    if (!window.confirm(`Delete the passkey “${p.name}”? You will no longer be able to sign in with it.`)) return;
    const res = await client.fetch(`auth/passkeys/${encodeURIComponent(p.id)}`, { method: 'DELETE' });
    if (!res.ok) say('error', await refusal(res));
    await load();
  }

  $('add-passkey').onclick = () => void add();
  return { load };
}
