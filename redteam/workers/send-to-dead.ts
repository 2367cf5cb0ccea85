/**
 * Node's cluster: what does `worker.send()` do to the PRIMARY when the worker died a moment ago
 * and the primary has not yet processed its exit (`isConnected()` still true)? The primary of
 * BATON_WORKERS relays revocations and metrics requests with `w.send(...)` and registers no
 * 'error' listener on its workers.
 * Expected if unsafe: the primary dies of an unhandled 'error' event (EPIPE / ERR_IPC_CHANNEL_CLOSED).
 *
 * npx node redteam/workers/send-to-dead.ts [--guarded]
 */
import cluster from 'node:cluster';

if (cluster.isPrimary) {
  const w = cluster.fork();
  if (process.argv.includes('--guarded')) w.on('error', (err) => console.info('primary: worker error handled:', (err as Error).message));
  w.once('online', () => {
    setTimeout(() => {
      process.kill(w.process.pid as number, 'SIGKILL');
      const until = Date.now() + 200;
      while (Date.now() < until); // the worker is dead; the primary has not run its loop since
      console.info('primary: isConnected() =', w.isConnected(), '— sending');
      w.send({ baton: 'revoke', id: 1 });
      setTimeout(() => {
        console.info('primary: still alive after the send');
        process.exit(0);
      }, 300);
    }, 200);
  });
  process.on('exit', (code) => console.info('primary exits with', code));
} else {
  setInterval(() => undefined, 1000);
}
