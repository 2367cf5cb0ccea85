export { handle } from '#lib/server/baton.ts';
