/** Raw HTTP/1.1 over a socket: full control of header bytes (duplicates, odd values). */
import { connect } from 'node:net';

export interface RawAnswer {
  status: number;
  headers: [string, string][];
  body: string;
  get(name: string): string | undefined;
  all(name: string): string[];
}

export function raw(port: number, lines: string[], body = ''): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    s.on('data', (c) => chunks.push(c));
    s.on('error', reject);
    s.on('end', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const [head, ...rest] = text.split('\r\n\r\n');
      const [statusLine, ...hl] = (head ?? '').split('\r\n');
      const headers = hl.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()] as [string, string]);
      resolve({
        status: Number(statusLine?.split(' ')[1]),
        headers,
        body: rest.join('\r\n\r\n'),
        get: (n) => headers.find(([k]) => k === n)?.[1],
        all: (n) => headers.filter(([k]) => k === n).map(([, v]) => v),
      });
    });
    const req = [...lines, 'Connection: close', ...(body ? [`Content-Length: ${Buffer.byteLength(body, 'latin1')}`] : []), '', body].join('\r\n');
    s.write(Buffer.from(req, 'latin1'));
  });
}
