/**
 * Whether a request comes from the app's own pages, by what the browser says of it (Fetch Metadata,
 * W3C "Fetch Metadata Request Headers" §2.4): `Sec-Fetch-Site: same-origin`, which no other site's
 * page can make a browser send; from a browser that sends none, an `Origin` that `ours` accepts
 * (`null` never). With neither header the request is no browser's fetch or form POST: `headerless`
 * decides — a token route refuses it, a form action (which only guards against requests forged in a
 * visitor's browser) may let it through. The one rule of the Next.js and SvelteKit adapters.
 */
export function fromOurPages(headers: Headers, ours: (origin: string) => boolean, headerless: boolean): boolean {
  const site = headers.get('sec-fetch-site');
  if (site !== null) return site === 'same-origin';
  const origin = headers.get('origin');
  if (origin === null) return headerless;
  return origin !== 'null' && ours(origin);
}
