// The docs site: the guides in docs/ and the API reference TypeDoc writes to docs/api/
// (`npm run docs:build` runs both). VitePress fails the build on a dead internal link.
import { readFileSync } from 'node:fs';
import { defineConfig } from 'vitepress';
import type { DefaultTheme } from 'vitepress';

/** TypeDoc's sidebar of the API reference (typedoc-vitepress-theme), written before the build. */
function apiSidebar(): DefaultTheme.SidebarItem[] {
  return JSON.parse(readFileSync(new URL('../api/typedoc-sidebar.json', import.meta.url), 'utf8')) as DefaultTheme.SidebarItem[];
}

const guides: DefaultTheme.SidebarItem[] = [
  { text: 'Introduction', link: '/' },
  { text: 'The service', link: '/service' },
  { text: 'The library', link: '/library' },
  { text: 'Sign-in: OAuth 2.1 and OpenID Connect', link: '/sign-in' },
  { text: 'Passkeys', link: '/passkeys' },
  { text: 'Sign-in with other providers', link: '/providers' },
  { text: 'Frameworks and WebSockets', link: '/frameworks' },
  { text: 'Next.js and server rendering', link: '/nextjs' },
  { text: 'SvelteKit', link: '/sveltekit' },
  { text: 'The client SDK', link: '/client' },
  { text: 'React', link: '/react' },
  { text: 'DPoP', link: '/dpop' },
  { text: 'Clients that name themselves', link: '/client-registration' },
  { text: 'Resource servers', link: '/resource-servers' },
  { text: 'Stores', link: '/stores' },
  { text: 'Configuration', link: '/configuration' },
  { text: 'Security', link: '/security' },
];

const operations: DefaultTheme.SidebarItem[] = [
  { text: 'Running in production', link: '/operations' },
  { text: 'Worker processes', link: '/workers' },
  { text: 'Backups and restores', link: '/backups' },
  { text: 'When the store loses its data', link: '/store-loss' },
  { text: 'Rolling upgrades', link: '/upgrades' },
  { text: 'The web page', link: '/web-page' },
];

const project: DefaultTheme.SidebarItem[] = [
  { text: 'Architecture', link: '/architecture' },
  { text: 'How it works', link: '/internals' },
  { text: 'Standards', link: '/standards' },
  { text: 'Tests', link: '/testing' },
  { text: 'Benchmarks', link: '/benchmarks' },
];

export default defineConfig({
  title: 'Baton',
  description: 'Access and refresh tokens for web APIs, done right.',
  cleanUrls: true,
  themeConfig: {
    nav: [
      { text: 'Guides', link: '/' },
      { text: 'API reference', link: '/api/' },
    ],
    sidebar: {
      '/api/': [{ text: 'API reference', link: '/api/', items: apiSidebar() }],
      '/': [
        { text: 'Guides', items: guides },
        { text: 'Operations', items: operations },
        { text: 'The project', items: project },
      ],
    },
    search: { provider: 'local' },
    outline: { level: [2, 3] },
  },
  markdown: {
    config(md) {
      // Files included from the repository root (SECURITY.md) link to `docs/x.md`: on the site that is `/x`.
      const linkOpen = md.renderer.rules.link_open;
      md.renderer.rules.link_open = (tokens, idx, options, env, self) => {
        const href = tokens[idx]?.attrGet('href');
        if (href?.startsWith('docs/')) tokens[idx]?.attrSet('href', `/${href.slice('docs/'.length)}`);
        return linkOpen ? linkOpen(tokens, idx, options, env, self) : self.renderToken(tokens, idx, options);
      };
    },
  },
});
