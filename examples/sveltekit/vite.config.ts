import adapter from '@sveltejs/adapter-node';
import { sveltekit } from '@sveltejs/kit/vite';
import { defaultClientConditions, defaultServerConditions, defineConfig } from 'vite';

// In the repository, baton-auth resolves to its TypeScript sources (the `baton-source` export
// condition, as everywhere in the monorepo); an app that installs it from npm needs none of this.
export default defineConfig({
  plugins: [sveltekit({ adapter: adapter({ precompress: false }) })],
  resolve: { conditions: ['baton-source', ...defaultClientConditions] },
  ssr: { resolve: { conditions: ['baton-source', ...defaultServerConditions] } },
});
