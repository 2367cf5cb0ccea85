/**
 * A WebSocket client on a bare TCP socket (RFC 6455 §4.1, §5.2), for the clients `ws` will not
 * play: one that stops reading, or that never answers a close frame. It parses the server's
 * frames as they come and sends whatever frames it is told to, nothing on its own.
 */
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import type { Socket } from 'node:net';

export interface Frame {
  opcode: number;
  payload: Buffer;
}

export interface RawClient {
  socket: Socket;
  /** The handshake's status line, once the answer has come. */
  status: () => string | undefined;
  /** The frames the server sent, in order (none once reading has been paused). */
  frames: Frame[];
  /** The text frames, parsed as JSON. */
  messages: () => { type?: string; [k: string]: unknown }[];
  /** The close frame's code and reason, once one has come. */
  closeFrame: () => { code: number; reason: string } | undefined;
  /** Whether the TCP connection is gone. */
  closed: () => boolean;
  /** Writes `count` masked text frames of `text` in one write; false when the socket wants a drain. */
  send: (text: string, count?: number) => boolean;
}

/**
 * A client frame: `opcode`, masked (§5.3) with a zero key, which leaves the payload as is; FIN
 * unless `fin` is false (a message's first frame or a continuation, opcode 0, §5.4).
 */
export function clientFrame(text: string, opcode = 0x1, fin = true): Buffer {
  const payload = Buffer.from(text);
  const first = (fin ? 0x80 : 0) | opcode;
  const length =
    payload.length < 126 ? Buffer.from([first, 0x80 | payload.length]) : Buffer.from([first, 0x80 | 126, payload.length >> 8, payload.length & 0xff]);
  return Buffer.concat([length, Buffer.alloc(4), payload]);
}

/** Opens `path` on 127.0.0.1:`port`, offering `protocols`, with extra request `headers`, from `localAddress` (a 127.x.y.z) if given. */
export function rawClient(port: number, protocols: string[], headers: Record<string, string> = {}, path = '/ws', localAddress?: string): Promise<RawClient> {
  const socket = connect({ port, host: '127.0.0.1', ...(localAddress === undefined ? {} : { localAddress }) });
  const frames: Frame[] = [];
  let status: string | undefined;
  let closed = false;
  let pending = Buffer.alloc(0);
  socket.on('error', () => undefined);
  socket.on('close', () => void (closed = true));
  socket.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    if (status === undefined) {
      const end = pending.indexOf('\r\n\r\n');
      if (end < 0) return;
      status = pending.subarray(0, pending.indexOf('\r\n')).toString();
      pending = pending.subarray(end + 4);
    }
    for (;;) {
      if (pending.length < 2) return;
      const short = (pending[1] as number) & 0x7f;
      const start = short === 126 ? 4 : short === 127 ? 10 : 2;
      if (pending.length < start) return;
      const length = short === 126 ? pending.readUInt16BE(2) : short === 127 ? Number(pending.readBigUInt64BE(2)) : short;
      if (pending.length < start + length) return;
      frames.push({ opcode: (pending[0] as number) & 0x0f, payload: pending.subarray(start, start + length) });
      pending = pending.subarray(start + length);
    }
  });
  const extra = Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  socket.write(
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ${protocols.join(', ')}\r\n${extra}\r\n`,
  );
  const client: RawClient = {
    socket,
    status: () => status,
    frames,
    messages: () => frames.filter((f) => f.opcode === 0x1).map((f) => JSON.parse(f.payload.toString()) as { type?: string }),
    closeFrame: () => {
      const close = frames.find((f) => f.opcode === 0x8);
      return close === undefined ? undefined : { code: close.payload.readUInt16BE(0), reason: close.payload.subarray(2).toString() };
    },
    closed: () => closed,
    send: (text, count = 1) => {
      const frame = clientFrame(text);
      return socket.write(count === 1 ? frame : Buffer.concat(Array.from({ length: count }, () => frame)));
    },
  };
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(client));
    socket.once('error', reject);
  });
}
