// The hosted sign-in page's passkey (baton-auth's html.ts renders its form; the service serves this
// module and webauthn.js, @simplewebauthn/browser, same-origin under the page's CSP): the username
// field offers passkeys in its autofill (conditional UI), the button asks for one; the browser's
// answer goes in the form beside the sealed transaction, and the form is posted.
import { browserSupportsWebAuthn, browserSupportsWebAuthnAutofill, startAuthentication } from './webauthn.js';

const form = document.getElementById('passkey-form');
const button = document.getElementById('passkey-button');

/** The service's challenge (its sealed state in an HttpOnly cookie). */
async function options() {
  const res = await fetch(form.dataset.options, { method: 'POST', cache: 'no-store' });
  if (!res.ok) throw new Error(`The passkey options could not be had (HTTP ${res.status}).`);
  return res.json();
}

async function signIn(useBrowserAutofill) {
  const answer = await startAuthentication({ optionsJSON: await options(), useBrowserAutofill });
  form.elements.namedItem('credential').value = JSON.stringify(answer);
  form.submit();
}

function say(sentence) {
  let p = document.querySelector('p.error');
  if (p === null) {
    p = document.createElement('p');
    p.className = 'error';
    p.setAttribute('role', 'alert');
    document.querySelector('main form').before(p);
  }
  p.textContent = sentence;
}

if (form !== null && browserSupportsWebAuthn()) {
  button.hidden = false;
  button.addEventListener('click', () =>
    signIn(false).catch((err) =>
      say(err?.name === 'NotAllowedError' ? 'No passkey was used. Try again, or use your password.' : 'The passkey sign-in failed.'),
    ),
  );
  if (await browserSupportsWebAuthnAutofill()) signIn(true).catch(() => undefined);
}
