// "Apps with access": the apps this user allowed to act for them (GET /auth/consents), each with
// a Revoke button (DELETE /auth/consents/<client>: the consent is forgotten and that app's
// sessions are signed out; it must ask again). An app's name is the app's own word (a registered
// client chose it): it is only ever set as text, never as markup.

/** The list's view over the page's token client; `load()` draws it again when it changed. */
export function consentsView(client, $) {
  let shown = '';

  async function load() {
    const res = await client.fetch('auth/consents').catch(() => null);
    if (res === null || !res.ok) return;
    const { consents } = await res.json();
    const shape = JSON.stringify(consents);
    if (shape === shown) return; // a focused button stays where it is
    shown = shape;
    $('consents').replaceChildren(...consents.map(item));
    $('no-consents').hidden = consents.length > 0;
  }

  /** One app: its name (or client id), what it may use and since when; its Revoke button. */
  function item(c) {
    const name = c.client_name ?? c.client_id;
    const li = document.createElement('li');
    li.dataset.client = c.client_id;
    const label = document.createElement('div');
    const title = document.createElement('div');
    title.className = 'device';
    title.textContent = name;
    const meta = document.createElement('div');
    meta.className = 'muted';
    const when = new Date(c.at).toLocaleDateString(undefined, { day: 'numeric', month: 'short', year: 'numeric' });
    meta.textContent = `${c.scope ? `may use ${c.scope.split(' ').join(', ')} · ` : ''}allowed ${when}`;
    label.append(title, meta);
    const revoke = document.createElement('button');
    revoke.className = 'danger kick';
    revoke.textContent = 'Revoke';
    revoke.setAttribute('aria-label', `Revoke access of ${name}`);
    revoke.onclick = async () => {
      revoke.disabled = true;
      await client.fetch(`auth/consents/${encodeURIComponent(c.client_id)}`, { method: 'DELETE' }).catch(() => null);
      await load();
    };
    li.append(label, revoke);
    return li;
  }

  return { load };
}
