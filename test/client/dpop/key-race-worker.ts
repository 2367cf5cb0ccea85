/** One process asking fileStorage for its DPoP key at a given instant: prints the public key's x. */
import { fileStorage } from 'baton-auth-client/node';

const [path, startAt] = [process.argv[2] as string, Number(process.argv[3])];
await new Promise((r) => setTimeout(r, Math.max(0, startAt - Date.now())));
const pair = await fileStorage(path).dpopKey?.('scope');
const jwk = await crypto.subtle.exportKey('jwk', (pair as CryptoKeyPair).publicKey);
process.stdout.write(`${jwk.x}\n`);
