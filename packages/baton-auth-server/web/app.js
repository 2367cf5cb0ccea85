// The Baton web page, on the client SDK (bundled as client.js): the access token lives in memory,
// shared by this origin's tabs; the refresh token in an HttpOnly cookie the page never sees. The
// session is bound to this browser with DPoP (RFC 9449): a key made here, kept in IndexedDB, that
// no script can read — a copied refresh cookie or access token is useless without it.
import { browserStorage, createTokenClient, sessionEndMessage, SignInError } from './client.js';

const $ = (id) => document.getElementById(id);
const storage = browserStorage();
const client = createTokenClient({
  endpoints: { token: 'oauth/token', revocation: 'oauth/revoke' },
  clientId: 'default',
  mode: 'cookie',
  storage,
  background: true, // refresh before expiry even while the page makes no request
  dpop: true, // the endpoints are given, not discovered: say that this service binds sessions
});
let refreshes = 0;
let signedIn = false;

function show(loggedIn, message = '') {
  signedIn = loggedIn;
  $('login-card').hidden = loggedIn;
  $('app').hidden = !loggedIn;
  $('message').textContent = message;
}

client.on('refreshed', () => {
  refreshes += 1;
  $('refresh-count').textContent = String(refreshes);
  const li = document.createElement('li');
  li.textContent = `${new Date().toLocaleTimeString()} refreshed — new access token, refresh token rotated`;
  $('refresh-log').prepend(li);
  while ($('refresh-log').children.length > 6) $('refresh-log').lastChild.remove();
});
client.on('sessionExpired', (end) => show(false, sessionEndMessage(end)));
client.on('warning', (w) => console.warn(`baton: ${w.message}`));
// For the browser console (and the browser test): this page's client and its storage.
window.baton = { client, storage };

async function login(event) {
  event.preventDefault();
  try {
    // A DPoP proof goes with the login (and once more with the server's nonce): the session is bound to this browser's key.
    await client.signIn('auth/login', { username: $('username').value, password: $('password').value, refresh_token_delivery: 'cookie' });
  } catch (err) {
    if (err instanceof SignInError) return show(false, err.errorDescription ?? 'Login failed');
    throw err;
  }
  $('password').value = '';
  await enter();
}

/** Shows whether the session is bound to this browser's key (token_type DPoP), and which key. */
async function showBinding(tokens) {
  const bound = tokens.tokenType === 'DPoP';
  $('binding').hidden = !bound;
  $('unbound').hidden = bound;
  if (!bound || $('thumbprint').dataset.full) return;
  const thumbprint = await client.dpopThumbprint();
  $('thumbprint').dataset.full = thumbprint;
  $('thumbprint').textContent = `${thumbprint.slice(0, 8)}…`;
  $('thumbprint').title = `RFC 7638 thumbprint of this browser's key: ${thumbprint}`;
}

async function enter() {
  show(true);
  const me = await client.fetch('auth/me');
  if (me.ok) $('whoami').textContent = (await me.json()).sub;
  await loadSessions();
}

async function loadSessions() {
  const res = await client.fetch('auth/sessions').catch(() => null);
  if (res === null || !res.ok) return;
  const { sessions } = await res.json();
  $('sessions').replaceChildren(...sessions.map((s) => {
    const li = document.createElement('li');
    li.dataset.id = s.id;
    li.dataset.current = String(s.current);
    const label = document.createElement('div');
    const ua = s.device.userAgent || 'unknown device';
    const title = document.createElement('div');
    title.textContent = ua.length > 70 ? `${ua.slice(0, 70)}…` : ua;
    if (s.current) title.insertAdjacentHTML('beforeend', '<span class="tag">this device</span>');
    const meta = document.createElement('div');
    meta.className = 'muted';
    meta.textContent = `since ${new Date(s.createdAt).toLocaleTimeString()} · last refresh ${new Date(s.lastUsedAt).toLocaleTimeString()}`;
    label.append(title, meta);
    li.append(label);
    if (!s.current) {
      const kick = document.createElement('button');
      kick.className = 'danger kick';
      kick.textContent = 'Kick';
      kick.onclick = async () => {
        await client.fetch(`auth/sessions/${encodeURIComponent(s.id)}`, { method: 'DELETE' });
        await loadSessions();
      };
      li.append(kick);
    }
    return li;
  }));
}

async function logout(scope) {
  await client.fetch('auth/logout', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ scope }) });
  if (scope === 'others') return loadSessions();
  await client.logout(); // clears the tokens in every tab
  show(false, scope === 'global' ? 'Logged out everywhere.' : 'Logged out.');
}

async function tick() {
  const tokens = await storage.get();
  if (tokens === null) return;
  if (!signedIn) await enter();
  void showBinding(tokens);
  const left = Math.max(0, tokens.expiresAt - Date.now());
  $('remaining').textContent = (left / 1000).toFixed(1);
  $('life').style.width = `${(100 * left) / (tokens.expiresAt - tokens.receivedAt)}%`;
}

$('login-form').addEventListener('submit', (e) => login(e).catch(() => show(false, 'The service cannot be reached')));
// The button works only once this script runs: a form submitted before would put the password in a URL.
$('login-button').disabled = false;
$('logout-local').onclick = () => logout('local');
$('logout-others').onclick = () => logout('others');
$('logout-global').onclick = () => logout('global');
setInterval(() => void tick(), 100);
// Notice a kick or a logout elsewhere within a couple of seconds.
setInterval(() => signedIn && loadSessions().catch(() => undefined), 1500);
// A reload keeps the session: another tab has the tokens, or the refresh cookie is still there.
setTimeout(async () => {
  if ((await storage.get()) !== null) return enter();
  client.refresh().then(enter, () => show(false));
}, 150);
