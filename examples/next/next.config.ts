import type { NextConfig } from 'next';

const config: NextConfig = {
  // The repository's typecheck (`npm run typecheck`) checks this app; the build does not do it again.
  typescript: { ignoreBuildErrors: true },
  // Where the build goes: the storm test builds into a folder of its own (a relative path, inside this one).
  distDir: process.env.NEXT_DIST_DIR ?? '.next',
  poweredByHeader: false,
};

export default config;
