/**
 * The authorization server's settings: the look of the hosted sign-in and consent pages, RFC 7591
 * registration, and the hosts whose client ID metadata documents are trusted. One part of the
 * settings table (`../settings.ts`); each text is checked by the library's own check.
 */
import { z } from 'zod';
import { BatonConfigError } from 'baton-auth';
import { checkPage, clientMetadataDocuments } from 'baton-auth/http';
import type { PageOptions } from 'baton-auth/http';
import { byLibrary, list, whole } from './setting.ts';
import type { Setting } from './setting.ts';

/** BATON_PAGE_THEME's text (`--baton-accent:#0a7;--baton-radius:8px`) as CSS variables; a declaration without `--name:` is a sentence. */
export function themeOf(text: string): Record<`--${string}`, string> {
  const theme: Record<`--${string}`, string> = {};
  for (const declaration of text.split(';').filter((d) => d.trim() !== '')) {
    const colon = declaration.indexOf(':');
    const name = declaration.slice(0, colon).trim();
    if (colon < 0 || !name.startsWith('--'))
      throw new BatonConfigError(
        `BATON_PAGE_THEME must be CSS variables separated by semicolons, like --baton-accent:#0a7;--baton-radius:8px, and ${JSON.stringify(declaration.slice(0, 60))} is not one.`,
      );
    theme[name as `--${string}`] = declaration.slice(colon + 1).trim();
  }
  return theme;
}

/** The page options of the three page settings, checked as the library checks them. */
export function pageOf(title: string | undefined, logo: string | undefined, theme: string | undefined): PageOptions {
  const page: PageOptions = {};
  if (title !== undefined) page.title = title;
  if (logo !== undefined) {
    if (!/^https:\/\//.test(logo))
      throw new BatonConfigError(`BATON_PAGE_LOGO must be an https URL, e.g. https://cdn.example.com/logo.svg, not ${JSON.stringify(logo.slice(0, 100))}.`);
    page.logoUrl = logo;
  }
  if (theme !== undefined) page.theme = themeOf(theme);
  try {
    checkPage(page);
  } catch (err) {
    // The library names its option (authorization.page.theme); the operator set a variable.
    throw new BatonConfigError(
      (err as Error).message.replace(
        /authorization\.page\.(title|logoUrl|theme)/,
        (_, o: string) => ({ title: 'BATON_PAGE_TITLE', logoUrl: 'BATON_PAGE_LOGO', theme: 'BATON_PAGE_THEME' })[o] ?? o,
      ),
    );
  }
  return page;
}

/** In the order of the table (`../settings.ts`). */
export const AUTHORIZATION_SETTINGS: readonly Setting[] = [
  {
    env: 'BATON_PAGE_TITLE',
    option: 'page.title',
    unset: 'Sign in',
    doc: 'The title and heading of the hosted sign-in and consent pages (at most 100 characters).',
    parse: byLibrary((v) => pageOf(v, undefined, undefined)),
  },
  {
    env: 'BATON_PAGE_LOGO',
    option: 'page.logoUrl',
    unset: 'no logo',
    doc: 'An https URL of a logo shown above the hosted forms.',
    parse: byLibrary((v) => pageOf(undefined, v, undefined)),
  },
  {
    env: 'BATON_PAGE_THEME',
    option: 'page.theme',
    unset: 'the default look',
    doc: 'CSS variables of the hosted pages, separated by semicolons: --baton-accent:#0a7;--baton-radius:8px.',
    parse: byLibrary((v) => pageOf(undefined, undefined, v)),
  },
  {
    env: 'BATON_CLIENT_REGISTRATION',
    option: 'registration',
    default: 'off',
    doc: "'open': anyone may register a client at POST /oauth/register (RFC 7591; at most BATON_CLIENT_REGISTRATION_MAX, 10 an hour per address); 'off': only the CLI adds clients.",
    parse: z.enum(['off', 'open'], { message: "BATON_CLIENT_REGISTRATION must be 'off' or 'open'" }),
  },
  {
    env: 'BATON_CLIENT_REGISTRATION_MAX',
    option: 'registration.maxClients',
    default: '1000',
    doc: 'The most clients registration keeps; past it, a registration is refused (clients the CLI adds do not count).',
    parse: whole('BATON_CLIENT_REGISTRATION_MAX must be a whole number from 1 to 1000000', 1, 1_000_000),
  },
  {
    env: 'BATON_CLIENT_METADATA_HOSTS',
    option: 'clientMetadataDocuments.hosts',
    default: '',
    doc: 'Hosts whose https client ids are client ID metadata documents (the MCP way to name a client), exact names, no wildcards; comma- or space-separated. Empty: off.',
    parse: byLibrary((v) => clientMetadataDocuments({ hosts: list(v) })),
  },
];
