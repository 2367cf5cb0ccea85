// Preload (`node --import`): this process's wall clock BATON_TEST_SKEW_MS ahead (negative: behind),
// as on a machine whose clock is off. Date.now only: what the instance registry (cluster.ts) reads.
import process from 'node:process';

const skew = Number(process.env.BATON_TEST_SKEW_MS ?? 0);
const now = Date.now;
Date.now = () => now() + skew;
