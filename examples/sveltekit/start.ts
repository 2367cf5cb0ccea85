// `npm run example:sveltekit`: the built app (adapter-node) on PORT (default 3002), on loopback unless HOST says otherwise.
process.env.PORT ??= '3002';
process.env.HOST ??= '127.0.0.1';
await import('./build/index.js');
