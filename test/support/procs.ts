import { readdirSync, readFileSync } from 'node:fs';

/** The processes running now, by their parent's pid (Linux: read from /proc; those that end meanwhile are left out). */
export function childrenByParent(): Map<number, number[]> {
  const children = new Map<number, number[]>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      // "pid (comm) state ppid …": comm may hold spaces and parentheses, so read after the last ')'.
      const stat = readFileSync(`/proc/${e}/stat`, 'latin1');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(e)]);
    } catch {
      // ended meanwhile
    }
  }
  return children;
}

/** The processes whose parent is `ppid`. */
export function childPids(ppid: number): number[] {
  return childrenByParent().get(ppid) ?? [];
}
