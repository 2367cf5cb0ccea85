/** The probe as a Workers module (workerd): POST the config, get the JSON lines back. */
import { probe } from './probe.ts';
import type { Line, ProbeConfig } from './probe.ts';

export default {
  async fetch(request: Request): Promise<Response> {
    const lines: Line[] = [];
    await probe((await request.json()) as ProbeConfig, (line) => lines.push(line));
    return new Response(lines.map((l) => JSON.stringify(l)).join('\n'), { headers: { 'content-type': 'application/x-ndjson' } });
  },
};
