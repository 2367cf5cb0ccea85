/**
 * The one polling helper of the tests: the conformance suite's, from the package's source (one
 * definition for both).
 */
export { eventually } from '../../packages/baton-auth/src/stores/conformance/eventually.ts';
export type { EventuallyOptions } from '../../packages/baton-auth/src/stores/conformance/eventually.ts';
