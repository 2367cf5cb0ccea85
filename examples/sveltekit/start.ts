// `npm run example:sveltekit`: the built app (adapter-node) on PORT (default 3002), on loopback
// unless HOST says otherwise. ORIGIN is the URL the browser opens (SvelteKit checks a form's Origin
// against it, and the cookies are Secure when it is https): default http://127.0.0.1:PORT.
process.env.PORT ??= '3002';
process.env.HOST ??= '127.0.0.1';
process.env.ORIGIN ??= `http://127.0.0.1:${process.env.PORT}`;
console.info(`Baton × SvelteKit: open ${process.env.ORIGIN} (the token service: ${process.env.BATON_ISSUER ?? 'http://127.0.0.1:3000'})`);
await import('./build/index.js');
