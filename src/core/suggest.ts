/**
 * Edit distance counting a swap of two neighbours as one edit (optimal string alignment),
 * giving up (returning `limit + 1`) once it exceeds `limit`.
 */
export function editDistance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  let before: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    let best = i;
    for (let j = 1; j <= b.length; j++) {
      let v = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, before[j - 2]! + 1);
      cur.push(v);
      if (v < best) best = v;
    }
    if (best > limit) return limit + 1;
    before = prev;
    prev = cur;
  }
  return Math.min(prev[b.length]!, limit + 1);
}

/**
 * The words of `candidates` a typo of `word` most likely meant, closest first: one it begins
 * ("dock" → "docker"), or within about one edit per three letters ("lgos" → "logs").
 */
export function closest(word: string, candidates: Iterable<string>, max = 3): string[] {
  const w = word.toLowerCase();
  const allowed = Math.min(3, Math.max(1, Math.floor(w.length / 3)));
  const scored: [string, number][] = [];
  for (const c of new Set(candidates)) {
    if (c === w) continue;
    const d = w.length >= 2 && c.startsWith(w) ? 0 : editDistance(w, c, allowed);
    if (d <= allowed) scored.push([c, d]);
  }
  return scored
    .sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0]))
    .slice(0, max)
    .map(([c]) => c);
}
