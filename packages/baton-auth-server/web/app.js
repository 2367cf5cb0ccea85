// The Baton web page, on the client SDK (bundled as client.js): the access token lives in memory,
// shared by this origin's tabs; the refresh token in an HttpOnly cookie the page never sees. The
// session is bound to this browser with DPoP (RFC 9449): a key made here, kept in IndexedDB, that
// no script can read — a copied refresh cookie or access token is useless without it.
import { browserStorage, createTokenClient, sessionEndMessage, SignInError } from './client.js';
import { consentsView } from './consents.js';
import { passkeySignIn, passkeysView } from './passkeys.js';

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
const apps = consentsView(client, $);
const keys = passkeysView(client, $, (kind, ...parts) => say(kind, ...parts));
let refreshes = 0;
let signedIn = false;
// Set once the person submits the form: the start-up check below then leaves the page to the sign-in
// (its answer, an error or the app, would otherwise be wiped by a start-up that finished later).
let signInStarted = false;
/** This tab's session id, as the service's lists mark it (`current`). */
let currentSession;
/** Whether the lists are asked for again (not while signing out), and the requests for them in flight. */
let polling = true;
let sessionsLoading = Promise.resolve();
let timelineLoading = Promise.resolve();

/**
 * "This browser signed in here": a marker, not a secret (the refresh cookie is HttpOnly, so the
 * page cannot see it). Without it a load makes no silent refresh: a first visit sends nothing
 * that could only fail (a 400 in the console, an `invalid` refresh in the service's metrics).
 */
const HINT = 'baton:page:signed-in';
const hint = {
  get: () => {
    try {
      return localStorage.getItem(HINT) === '1';
    } catch {
      return true;
    }
  },
  set: (on) => {
    try {
      if (on) localStorage.setItem(HINT, '1');
      else localStorage.removeItem(HINT);
    } catch {
      /* storage off: probe always */
    }
  },
};

// Words ---------------------------------------------------------------------------------------

const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
const times = (n) => (n === 1 ? 'once' : n === 2 ? 'twice' : `${n} times`);
const relative = new Intl.RelativeTimeFormat('en', { numeric: 'auto' });
const clock = (ms) => new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
const day = (ms) =>
  new Date(ms).toDateString() === new Date().toDateString()
    ? clock(ms)
    : new Date(ms).toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });

/** "just now", "2 minutes ago", "yesterday": how long ago `ms` was. */
function ago(ms) {
  const s = Math.round((Date.now() - ms) / 1000);
  if (s < 10) return 'just now';
  for (const [unit, size, below] of [
    ['second', 1, 60],
    ['minute', 60, 3600],
    ['hour', 3600, 86400],
    ['day', 86400, Infinity],
  ]) {
    if (s < below) return relative.format(-Math.floor(s / size), unit);
  }
  return '';
}

/** A span whose text says how long ago `ms` was, kept current by `refreshTimes`; its title says when. */
function since(ms, prefix = '') {
  const span = document.createElement('span');
  span.className = 'ago';
  span.dataset.at = String(ms);
  span.dataset.prefix = prefix;
  span.title = new Date(ms).toLocaleString();
  span.textContent = `${prefix}${ago(ms)}`;
  return span;
}

function refreshTimes() {
  for (const span of document.querySelectorAll('.ago')) span.textContent = `${span.dataset.prefix}${ago(Number(span.dataset.at))}`;
}

/** A device as a person names it: the service's parsed name (`device.name`), else "Unknown device". */
/** A device by its name; a session without one (an SDK, a CLI) by the app it signed in to. */
const deviceName = (device, clientId) => device?.name || (clientId && clientId !== 'default' ? `An app: ${clientId}` : 'Unknown device');

/** Shows a message: `info` (neutral: a sign-out) or `error` (something to act on). `parts` are strings, or [text] for code. */
function say(kind, ...parts) {
  const m = $('message');
  m.className = `message ${kind}`;
  m.replaceChildren(
    ...parts.map((p) => {
      if (typeof p === 'string') return p;
      const code = document.createElement('code');
      code.textContent = p[0];
      return code;
    }),
  );
}

function show(loggedIn, message = '', kind = 'info') {
  signedIn = loggedIn;
  if (!loggedIn) hint.set(false);
  if (!loggedIn) armPasskeys();
  $('login-card').hidden = loggedIn;
  $('app').hidden = !loggedIn;
  document.body.classList.toggle('signed-out', !loggedIn);
  say(kind, message);
}

// Token life ----------------------------------------------------------------------------------

client.on('refreshed', () => {
  refreshes += 1;
  $('refresh-count').dataset.count = String(refreshes);
  $('refresh-count').textContent = `refreshed ${times(refreshes)}`;
  const li = document.createElement('li');
  li.textContent = `${new Date().toLocaleTimeString()} · new access token, refresh token rotated`;
  $('refresh-log').prepend(li);
  while ($('refresh-log').children.length > 3) $('refresh-log').lastChild.remove();
  if (signedIn && polling) timelineLoading = loadTimeline().catch(() => undefined); // its counts follow
});
// A session another device ended is news, not a failure; a reused token is a warning.
client.on('sessionEnded', (end) => show(false, sessionEndMessage(end), end?.reason === 'reused' ? 'error' : 'info'));
client.on('warning', (w) => console.warn(`baton: ${w.message}`));
// For the browser console (and the browser test): this page's client and its storage.
window.baton = { client, storage };

/**
 * The DPoP nonce for the next proof, from a 204 (`HEAD /auth/login`, RFC 9449 §8.2), so that the
 * first proof carries one: otherwise the service refuses it once with 400 `use_dpop_nonce`,
 * which the SDK answers by signing again, and the browser logs the 400 as an error.
 */
async function fetchNonce() {
  const res = await fetch('auth/login', { method: 'HEAD', cache: 'no-store' }).catch(() => null);
  if (res?.ok) client.noteDpopNonce(res.url, res.headers.get('dpop-nonce'));
}

/** Why a sign-in was refused, in words the person at the keyboard can act on. */
function refusal(err, username) {
  if (err.status === 429) {
    const seconds = Math.max(1, Math.ceil((err.retryAfterMs ?? 60_000) / 1000));
    const wait =
      seconds < 90 ? plural(seconds, 'second') : seconds < 5400 ? plural(Math.ceil(seconds / 60), 'minute') : plural(Math.round(seconds / 3600), 'hour');
    // The answer does not say whether the username or the address is blocked (the same 429 for both): the way out names both.
    return [
      'Too many failed sign-ins. Try again in ',
      wait,
      ', or ask an administrator to run ',
      [`baton limits reset ${username}`],
      ' (or, when many sign-ins failed from your network, the same with its address).',
    ];
  }
  if (err.status === 401) return ['Wrong username or password.'];
  if (err.status === 503) return ['The service is unavailable for a moment. Please try again shortly.'];
  return [err.errorDescription ? `${err.errorDescription}.`.replace(/\.\.$/, '.') : 'Sign-in failed. Please try again.'];
}

/** Passkey sign-in on the sign-in card (passkeys.js): the username field's autofill and the button. */
function armPasskeys() {
  void passkeySignIn({
    client,
    button: $('passkey-login'),
    beforeSignIn: async () => {
      signInStarted = true;
      await fetchNonce(); // the sign-in's DPoP proof carries a nonce, as a password's does
    },
    done: async (signingIn) => {
      try {
        await signingIn;
      } catch (err) {
        // A refused passkey says why (not "wrong password"); a block says how long, as for a password.
        if (err instanceof SignInError && err.status === 401)
          return say('error', `${err.errorDescription ?? 'The passkey was refused'}.`.replace(/\.\.$/, '.'));
        if (err instanceof SignInError && err.status === 429)
          return say('error', 'Too many failed sign-ins with this passkey’s account from your network. Try again later, or sign in with your password.');
        if (err instanceof SignInError) return say('error', ...refusal(err, ''));
        throw err;
      }
      await enter();
    },
    failed: (err) =>
      say(
        'error',
        err?.name === 'NotAllowedError' ? 'No passkey was used. Try again, or sign in with your password.' : 'The passkey sign-in failed. Try again.',
      ),
  }).catch(() => undefined);
}

async function login(event) {
  event.preventDefault();
  signInStarted = true;
  const username = $('username').value.trim();
  $('login-button').disabled = true;
  try {
    await fetchNonce();
    // A DPoP proof goes with the login: the session is bound to this browser's key.
    await client.signIn('auth/login', { username, password: $('password').value, refresh_token_delivery: 'cookie' });
  } catch (err) {
    if (err instanceof SignInError) return say('error', ...refusal(err, username));
    throw err;
  } finally {
    $('login-button').disabled = false;
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
  hint.set(true);
  const me = await client.fetch('auth/me');
  if (me.ok) {
    const body = await me.json();
    $('whoami').textContent = body.username ?? body.sub; // `username` since 0.3; `sub` is the user id
  }
  await loadSessions();
  await loadTimeline();
  await apps.load();
  await keys.load();
}

// Other providers ------------------------------------------------------------------------------

/** The providers' names by their id, for the history ("Signed in with Google"). */
const providerLabels = new Map();

/** "Continue with NAME" for each provider the service has (`baton providers add`). */
async function loadProviders() {
  const res = await fetch('auth/providers', { cache: 'no-store' }).catch(() => null);
  if (res === null || !res.ok) return;
  const { providers } = await res.json();
  for (const p of providers) providerLabels.set(p.name, p.label);
  $('providers').replaceChildren(
    ...providers.map((p) => {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'secondary';
      button.textContent = `Continue with ${p.label}`;
      // The session the service opens at the callback is bound to this browser's DPoP key, as a password sign-in's is.
      button.onclick = async () => {
        signInStarted = true;
        const jkt = await client.dpopThumbprint();
        window.location.assign(`auth/providers/${encodeURIComponent(p.name)}/start?dpop_jkt=${encodeURIComponent(jkt)}`);
      };
      return button;
    }),
  );
  $('providers').hidden = providers.length === 0;
}

// Devices -------------------------------------------------------------------------------------

let shownSessions = '';

async function loadSessions() {
  const res = await client.fetch('auth/sessions').catch(() => null);
  if (res === null || !res.ok) return;
  const { sessions } = await res.json();
  sessions.sort((a, b) => Number(b.current) - Number(a.current) || b.lastUsedAt - a.lastUsedAt);
  currentSession = sessions.find((s) => s.current)?.id ?? currentSession;
  // Drawn again only when something changed: a focused button must stay where it is.
  const shape = JSON.stringify(sessions.map((s) => [s.id, s.lastUsedAt, s.device]));
  if (shape === shownSessions) return refreshTimes();
  const changed = shownSessions !== '' && JSON.stringify(JSON.parse(shownSessions).map((s) => s[0])) !== JSON.stringify(sessions.map((s) => s.id));
  shownSessions = shape;
  $('sessions').replaceChildren(...sessions.map(sessionItem));
  if (changed) void loadTimeline();
}

/** One device: its name, "This device", its address, when it was last active and signed in; a button to sign it out. */
function sessionItem(s) {
  const li = document.createElement('li');
  li.dataset.id = s.id;
  li.dataset.current = String(s.current);
  const label = document.createElement('div');
  const title = document.createElement('div');
  title.className = 'device';
  title.textContent = deviceName(s.device, s.clientId);
  if (s.current) {
    const tag = document.createElement('span');
    tag.className = 'tag';
    tag.textContent = 'This device';
    title.append(tag);
  }
  const meta = document.createElement('div');
  meta.className = 'muted';
  const address = s.device.ip ? `${s.device.ip} · ` : '';
  meta.append(address, s.current ? 'active now' : since(s.lastUsedAt, 'active '), ` · signed in ${day(s.createdAt)}`);
  label.append(title, meta);
  li.append(label);
  if (!s.current) {
    const kick = document.createElement('button');
    kick.className = 'danger kick';
    kick.textContent = 'Sign out';
    kick.setAttribute('aria-label', `Sign out ${deviceName(s.device, s.clientId)}${s.device.ip ? ` at ${s.device.ip}` : ''}`);
    kick.onclick = () => void kickDevice(s);
    li.append(kick);
  }
  return li;
}

/** Asks first ("Sign out this device?"); signs the device out only on "Sign out device". */
async function kickDevice(s) {
  const dialog = $('confirm-kick');
  $('confirm-text').textContent =
    `${deviceName(s.device, s.clientId)}${s.device.ip ? ` at ${s.device.ip}` : ''}, active ${ago(s.lastUsedAt)}, will be signed out and will need to sign in again.`;
  dialog.returnValue = '';
  dialog.showModal();
  const answer = await new Promise((resolve) => dialog.addEventListener('close', () => resolve(dialog.returnValue), { once: true }));
  if (answer !== 'confirm') return;
  await client.fetch(`auth/sessions/${encodeURIComponent(s.id)}`, { method: 'DELETE' });
  await loadSessions();
  await loadTimeline();
}

// Activity ------------------------------------------------------------------------------------

let events = [];
let next;
let expanded = false;
const SHOWN = 12;

/** Who did it: "this device", or the other device's name. */
const byWhom = (by) => (by === undefined ? 'another device' : by.session_id === currentSession ? 'this device' : deviceName(by.device));

/** An event of the history as a sentence, and how it looks (`ended`, `alert`): the audit trail's types and reasons. */
function describe(e) {
  switch (e.type) {
    case 'session.created':
      if (e.device?.method === 'passkey') return ['Signed in with a passkey'];
      return [e.device?.method === 'provider' ? `Signed in with ${providerLabels.get(e.device.provider) ?? e.device.provider}` : 'Signed in'];
    case 'refresh.rotated':
      return [`Stayed signed in: refreshed ${times(e.count)}`];
    case 'refresh.grace':
      return [
        e.count === 1 ? 'Two tabs refreshed at the same moment; both were answered' : `Tabs refreshed at the same moment ${times(e.count)}; all were answered`,
      ];
    case 'refresh.reused':
      return [`An old sign-in token was used again${e.ip ? ` from ${e.ip}` : ''}`, 'alert'];
    case 'session.revoked':
    case 'session.evicted':
    case 'session.expired':
      return ended(e);
    default:
      return [e.type];
  }
}

/** A session's end, by its reason. */
function ended(e) {
  switch (e.reason) {
    case 'logout':
      return ['Signed out', 'ended'];
    case 'logout_everywhere':
      return [`Signed out everywhere from ${byWhom(e.by)}`, 'ended'];
    case 'kicked':
      return [`Signed out from ${byWhom(e.by)}`, 'ended'];
    case 'evicted':
      return [`Signed out: a newer sign-in on ${byWhom(e.by)} took its place`, 'ended'];
    case 'reused':
      return ['Signed out for safety', 'alert'];
    case 'idle_timeout':
      return ['Signed out after a long time without activity', 'ended'];
    case 'absolute_timeout':
      return ['Signed out: the session reached its maximum age', 'ended'];
    case 'key_revoked':
      return ['Signed out: the service replaced one of its keys', 'ended'];
    case 'password_changed':
      return ['Signed out: the password was changed', 'alert'];
    case 'admin':
      return ['Signed out by an administrator', 'alert'];
    default:
      return ['Session ended', 'ended'];
  }
}

function eventItem(e) {
  const [what, look] = describe(e);
  const li = document.createElement('li');
  if (look) li.className = look;
  li.dataset.type = e.type;
  li.dataset.session = e.session_id;
  const head = document.createElement('div');
  head.className = 'what';
  head.textContent = what;
  const meta = document.createElement('div');
  meta.className = 'muted';
  meta.append(`${deviceName(e.device, e.client_id)}${e.current ? ' (this device)' : ''}${e.device.ip ? ` · ${e.device.ip}` : ''} · `, since(e.at));
  li.append(head, meta);
  return li;
}

function drawTimeline() {
  const shown = expanded ? events : events.slice(0, SHOWN);
  $('timeline').replaceChildren(...shown.map(eventItem));
  $('more-events').hidden = shown.length === events.length && next === undefined;
}

async function loadTimeline() {
  const res = await client.fetch('auth/sessions/history').catch(() => null);
  if (res === null || !res.ok) return;
  const page = await res.json();
  currentSession = page.events.find((e) => e.current)?.session_id ?? currentSession;
  events = page.events;
  next = page.next;
  drawTimeline();
}

$('more-events').onclick = async () => {
  if (!expanded) {
    expanded = true;
    if (events.length > SHOWN) return drawTimeline();
  }
  if (next === undefined) return drawTimeline();
  const res = await client.fetch(`auth/sessions/history?before=${encodeURIComponent(next)}`).catch(() => null);
  if (res === null || !res.ok) return;
  const page = await res.json();
  events = [...events, ...page.events];
  next = page.next;
  drawTimeline();
};

// Signing out ---------------------------------------------------------------------------------

async function logout(scope) {
  if (scope !== 'others') {
    // No list asked for meanwhile: one that reached the service after the sign-out would be refused (a 401 in the console).
    polling = false;
    await Promise.allSettled([sessionsLoading, timelineLoading]);
  }
  const res = await client.fetch('auth/logout', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ scope }) });
  await res.text(); // read to the end: a body left unread is cut off (and logged as failed) when the page goes
  if (scope === 'others') {
    await loadSessions();
    return loadTimeline();
  }
  await client.logout(); // clears the tokens in every tab
  show(false, scope === 'global' ? 'Signed out on every device.' : 'Signed out.');
  polling = true;
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

$('login-form').addEventListener('submit', (e) => login(e).catch(() => say('error', 'The service cannot be reached. Check your connection and try again.')));
// The button works only once this script runs: a form submitted before would put the password in a URL.
$('login-button').disabled = false;
$('logout-local').onclick = () => logout('local');
$('logout-others').onclick = () => logout('others');
$('logout-global').onclick = () => logout('global');
setInterval(() => void tick(), 100);
// Notice a kick or a logout elsewhere within a couple of seconds; the activity now and then.
setInterval(() => {
  if (signedIn && polling) sessionsLoading = loadSessions().catch(() => undefined);
}, 1500);
setInterval(() => {
  if (signedIn && polling) timelineLoading = loadTimeline().catch(() => undefined);
  if (signedIn && polling) void apps.load().catch(() => undefined);
}, 15_000);
// A reload keeps the session: another tab has the tokens, or the refresh cookie is still there —
// asked for only when this browser signed in here before (the marker), with a nonce first.
// Back from a provider's sign-in (`#signed-in`): its session's refresh cookie is set; the marker says nothing more.
const fromProvider = window.location.hash === '#signed-in';
if (fromProvider) window.history.replaceState(null, '', window.location.pathname + window.location.search);
const resuming = hint.get() || fromProvider;
void loadProviders();
if (resuming) $('login-card').hidden = true; // no flash of the form while the session resumes
setTimeout(async () => {
  if (signInStarted) return;
  if ((await storage.get()) !== null) return signInStarted || enter();
  if (signInStarted) return;
  if (!resuming) return show(false);
  await fetchNonce();
  client.refresh().then(enter, () => signInStarted || show(false));
}, 150);
