// Preload (node --import): this process's wall clock RT_SKEW_MS ahead (or behind), as a machine whose clock is off.
const skew = Number(process.env.RT_SKEW_MS ?? 0);
const now = Date.now;
Date.now = () => now() + skew;
