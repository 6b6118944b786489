/** How a verb's flag is given: alone (`--json`), or with a value (`--state-dir DIR`, `--state-dir=DIR`). */
export type FlagKind = 'bool' | 'value';

export type Parsed =
  | { kind: 'help' }
  | { kind: 'error'; message: string }
  | { kind: 'ok'; flags: Map<string, string[]>; positional: string[] };

/**
 * Strict parsing of one verb's arguments: `--help`/`-h` anywhere wins (so asking for help
 * never starts anything); an unknown flag, a missing value, or arguments other than the
 * `positional` ones the verb names (all of them required) is an error.
 */
export function parseVerbArgs(
  args: readonly string[],
  flags: Readonly<Record<string, FlagKind>>,
  positional: readonly string[] = [],
): Parsed {
  if (args.some((a) => a === '--help' || a === '-h')) return { kind: 'help' };
  const seen = new Map<string, string[]>();
  const given: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith('-') || arg === '-') {
      if (given.length === positional.length)
        return { kind: 'error', message: `unexpected argument ${JSON.stringify(arg)}` };
      given.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    const kind = flags[name];
    if (!kind) return { kind: 'error', message: `unknown option ${JSON.stringify(name)}` };
    let value = '';
    if (kind === 'value') {
      const next = eq > 0 ? arg.slice(eq + 1) : args[++i];
      if (next === undefined || next === '' || (eq < 0 && next.startsWith('--')))
        return { kind: 'error', message: `${name} needs a value` };
      value = next;
    } else if (eq > 0) return { kind: 'error', message: `${name} takes no value` };
    seen.set(name, [...(seen.get(name) ?? []), value]);
  }
  if (given.length < positional.length) return { kind: 'error', message: `${positional[given.length]} is missing` };
  return { kind: 'ok', flags: seen, positional: given };
}
