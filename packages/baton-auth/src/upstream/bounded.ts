/** The bounded reading of a provider's answers that openid-client does not read itself (GitHub's user API). */
import { UpstreamError } from './options.ts';

/** A body of at most `max` bytes, as JSON: read as it comes, and dropped once past `max` (never held whole). */
export async function boundedJson(res: Response, max: number): Promise<unknown> {
  const tooMuch = (): UpstreamError => new UpstreamError('invalid', 'The provider answered with too much.');
  if (Number(res.headers.get('content-length') ?? 0) > max) {
    await res.body?.cancel().catch(() => undefined);
    throw tooMuch();
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (res.body !== null) {
    const reader = res.body.getReader();
    for (let r = await reader.read(); !r.done; r = await reader.read()) {
      size += r.value.byteLength;
      if (size > max) {
        await reader.cancel().catch(() => undefined);
        throw tooMuch();
      }
      chunks.push(r.value);
    }
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    throw new UpstreamError('invalid', 'The provider answered with something that is not JSON.');
  }
}
