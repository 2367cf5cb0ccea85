/**
 * Writes docs/configuration.md from the service's settings table
 * (packages/baton-auth-server/src/server/settings.ts): `npm run docs:config`.
 * test/server/settings.test.ts fails when the file is stale.
 */
import { writeFileSync } from 'node:fs';
import { configurationReference } from '../packages/baton-auth-server/src/server/settings.ts';

const target = new URL('../docs/configuration.md', import.meta.url);
writeFileSync(target, configurationReference());
console.log(`wrote ${target.pathname}`);
