/** `baton token inspect`: what a token says, and whether this service would accept it. */
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { isBatonError } from 'baton-auth';
import { readStdin, withEngine } from '../support.ts';
import { program } from '../program.ts';

program
  .command('token')
  .description('tokens')
  .command('inspect <token>')
  .description('decode and check a token (`-`: read it from standard input); prints its claims, never the token or its signature')
  .action(async (argument: string) => {
    const token = argument === '-' ? (await readStdin()).trim() : argument;
    await withEngine(async (baton) => {
      if (token.startsWith('rt_')) {
        const answer = await baton.introspect(token);
        console.info(JSON.stringify({ kind: 'refresh token', ...answer }, null, 2));
        if (!answer.active) process.exitCode = 1;
      } else {
        let header: unknown = 'not a JWS';
        let claims: unknown = 'not readable (JWE or opaque)';
        try {
          header = decodeProtectedHeader(token);
          claims = decodeJwt(token);
        } catch {
          // An opaque or encrypted token: its claims come from verification below, if valid.
        }
        let verdict: string;
        try {
          // Inspected for the API it names (RFC 8707): any audience of this issuer's is one it may carry.
          const aud = (claims as { aud?: unknown } | undefined)?.aud;
          const audience = typeof aud === 'string' ? aud : Array.isArray(aud) && typeof aud[0] === 'string' ? aud[0] : undefined;
          claims = await baton.verify(token, audience === undefined ? {} : { audience });
          verdict = 'valid';
        } catch (err) {
          verdict = isBatonError(err) ? `${err.code}: ${err.detail ?? err.message}` : 'invalid';
        }
        console.info(JSON.stringify({ header, claims, verdict }, null, 2));
        if (verdict !== 'valid') process.exitCode = 1; // scripts can test it: `baton token inspect - && …`
      }
    });
  });
