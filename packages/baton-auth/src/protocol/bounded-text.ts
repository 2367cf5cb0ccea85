/**
 * A body read to a bound: the stream is cancelled at the first byte past `max`, never buffered
 * whole, whatever `Content-Length` says (a declared length past it is refused before reading).
 * One reader for the service's requests, the server-rendering core's answers from the service and
 * the browser's answers from the app's routes; each caller says what being over the bound means.
 */

/** The body (a stream, or bytes already in memory) as UTF-8 text, or `undefined` when it is longer than `max` bytes. */
export async function boundedText(
  body: ReadableStream<Uint8Array> | Uint8Array | null,
  max: number,
  declaredLength?: string | null,
): Promise<string | undefined> {
  if (Number(declaredLength ?? 0) > max) return undefined;
  if (body === null) return '';
  if (body instanceof Uint8Array) return body.byteLength > max ? undefined : new TextDecoder().decode(body);
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => undefined);
      return undefined;
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  return new TextDecoder().decode(bytes);
}
