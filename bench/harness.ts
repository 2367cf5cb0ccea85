/**
 * A small benchmark harness: every candidate of a table runs in the same process, interleaved
 * over several rounds, and reports its median rate. Ratios are taken against a floor measured in
 * the same run, never against figures from another machine or another day.
 */

export interface Candidate {
  name: string;
  /** One operation; may return a promise, which is awaited. */
  run: () => unknown;
}

export interface Result {
  name: string;
  opsPerSec: number;
}

async function timeFor(candidate: Candidate, ms: number): Promise<number> {
  const end = performance.now() + ms;
  let ops = 0;
  const start = performance.now();
  let now = start;
  while (now < end) {
    for (let i = 0; i < 256; i++) {
      const r = candidate.run();
      if (r instanceof Promise) await r;
    }
    ops += 256;
    now = performance.now();
  }
  return ops / ((now - start) / 1000);
}

/** Runs each candidate `rounds` times for `ms` each, interleaved; returns median rates. */
export async function measure(candidates: Candidate[], { ms = 400, rounds = 3 } = {}): Promise<Result[]> {
  for (const c of candidates) await timeFor(c, Math.min(ms, 150)); // warm up every path first
  const samples = new Map<string, number[]>(candidates.map((c) => [c.name, []]));
  for (let r = 0; r < rounds; r++) {
    for (const c of candidates) samples.get(c.name)?.push(await timeFor(c, ms));
  }
  return candidates.map((c) => {
    const s = (samples.get(c.name) ?? []).sort((a, b) => a - b);
    return { name: c.name, opsPerSec: s[Math.floor(s.length / 2)] ?? 0 };
  });
}

/** Formats rows as a Markdown table. */
export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => `| ${r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join(' | ')} |`;
  return [
    line(headers),
    `| ${widths.map((w, i) => (i === 0 ? '-'.repeat(w) : `${'-'.repeat(Math.max(1, w - 1))}:`)).join(' | ')} |`,
    ...cells.slice(1).map(line),
  ].join('\n');
}

export const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
