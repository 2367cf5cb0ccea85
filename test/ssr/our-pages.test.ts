/**
 * The one "from our own pages" rule of the Next.js and SvelteKit adapters (ssr/our-pages.ts):
 * Fetch Metadata first, then the Origin, a `null` Origin never ours, and a request with neither
 * header refused by a token route and let through by a form action.
 */
import { describe, expect, it } from 'vitest';
import { fromOurPages } from 'baton-auth/ssr';

const APP = 'https://app.example';
const ours = (origin: string) => origin === APP;

// [Sec-Fetch-Site, Origin, expected for a token route (headerless refused), expected for a form action (headerless allowed)]
const table: [string | null, string | null, boolean, boolean][] = [
  ['same-origin', null, true, true],
  ['same-origin', 'https://evil.example', true, true], // a browser's Fetch Metadata cannot be forged by a page; it decides
  ['same-site', APP, false, false],
  ['cross-site', APP, false, false],
  ['none', null, false, false],
  [null, APP, true, true],
  [null, 'https://evil.example', false, false],
  [null, 'https://app.example.evil', false, false],
  [null, 'null', false, false],
  [null, null, false, true],
];

describe('fromOurPages', () => {
  it.each(table)('Sec-Fetch-Site %s, Origin %s: token route %s, form action %s', (site, origin, route, form) => {
    const headers = new Headers();
    if (site !== null) headers.set('sec-fetch-site', site);
    if (origin !== null) headers.set('origin', origin);
    expect(fromOurPages(headers, ours, false)).toBe(route);
    expect(fromOurPages(headers, ours, true)).toBe(form);
  });
});
