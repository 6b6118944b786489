/**
 * `/audit` filters: who, which action, on what, with what outcome, since when — parsed from
 * the words after `/audit` ("@alice audit.verify 24h", "failed", "tg:123 1h") and run as
 * one bounded query, newest first, over the newest entries of the log.
 */
import { AUDIT_OUTCOMES, type AuditEntry, type AuditLog, type AuditOutcome } from './audit.js';
import { isPostgres, type Db } from './sqlite.js';
import { closest } from './suggest.js';
import { parseDuration, truncate } from './text.js';

export interface AuditFilter {
  /** How many entries at most. */
  readonly limit?: number;
  /** Audit names ("tg:123", "console:alice"), any of them. */
  readonly people: readonly string[];
  /** Names a transport shows ("@alice"), resolved to audit names when the query runs. */
  readonly handles: readonly string[];
  /** Action names, or families ("audit.*"), any of them. */
  readonly actions: readonly string[];
  readonly outcomes: readonly AuditOutcome[];
  /** Only entries of the last this many ms. */
  readonly withinMs?: number;
  /** Only entries whose target contains this (case-insensitive). */
  readonly target?: string;
}

export const AUDIT_FILTER_USAGE = '[n] [@name|tg:<id>] [action|family.*] [outcome] [24h] [target:<text>]';

const HANDLE = /^@[A-Za-z0-9_]{1,64}$/;
const PERSON = /^[a-z][a-z0-9]{0,15}:[^\s:]{1,64}$/;
const ACTION = /^[a-z][a-z0-9-]{0,31}\.(?:\*|[a-z0-9][a-z0-9.-]{0,63})$/;
const COUNT = /^\d{1,9}$/;
const MAX_TARGET = 100;
/** The most a time filter reaches back: about ten years. */
const MAX_WITHIN_MS = 3650 * 86_400_000;

/** The filter the words describe, or a one-line message saying what is wrong with them. */
export function parseAuditFilter(input: string): AuditFilter | string {
  const people: string[] = [];
  const handles: string[] = [];
  const actions: string[] = [];
  const outcomes: AuditOutcome[] = [];
  let limit: number | undefined;
  let withinMs: number | undefined;
  let target: string | undefined;
  for (const word of input.split(/\s+/).filter((w) => w !== '')) {
    const lower = word.toLowerCase();
    const shown = JSON.stringify(truncate(word, 40));
    if (COUNT.test(word)) {
      const n = Number(word);
      if (limit !== undefined) return `two counts (${limit} and ${n}): give at most one`;
      if (n < 1 || n > 100) return `at most 100 entries at a time, at least 1 (not ${n})`;
      limit = n;
    } else if (lower.startsWith('target:')) {
      const t = word.slice('target:'.length);
      if (t === '') return 'target: needs some text, e.g. target:web';
      if (t.length > MAX_TARGET) return `target: at most ${MAX_TARGET} characters`;
      if (target !== undefined) return 'two target: filters: give at most one';
      target = t;
    } else if (HANDLE.test(word)) {
      handles.push(lower);
    } else if (PERSON.test(word)) {
      people.push(word);
    } else if (ACTION.test(lower)) {
      actions.push(lower);
    } else if ((AUDIT_OUTCOMES as readonly string[]).includes(lower)) {
      outcomes.push(lower as AuditOutcome);
    } else if (/^\d/.test(word) && parseDuration(lower) !== undefined) {
      const ms = parseDuration(lower)!;
      if (withinMs !== undefined) return `two time filters: give at most one (e.g. 24h)`;
      if (ms <= 0 || ms > MAX_WITHIN_MS) return `a time filter is between 1s and 3650d, not ${shown}`;
      withinMs = ms;
    } else {
      const near = closest(lower, AUDIT_OUTCOMES);
      const meant = near.length > 0 ? ` Did you mean ${near.join(' or ')}?` : '';
      return (
        `not a filter: ${shown}.${meant} Filters: a count, @name or tg:<id>, an action or its family ` +
        `(audit.verify, audit.*), an outcome (ok, failed, denied…), a time (24h), target:<text>`
      );
    }
  }
  return {
    people,
    handles,
    actions,
    outcomes,
    ...(limit !== undefined ? { limit } : {}),
    ...(withinMs !== undefined ? { withinMs } : {}),
    ...(target !== undefined ? { target } : {}),
  };
}

/** Whether a filter narrows anything besides the count. */
export const narrows = (f: AuditFilter): boolean =>
  f.people.length + f.handles.length + f.actions.length + f.outcomes.length > 0 ||
  f.withinMs !== undefined ||
  f.target !== undefined;

export interface AuditQueryOptions {
  readonly limit: number;
  readonly now: number;
  /**
   * Actions whose targets this reader may search; absent: all. A target filter must not become
   * an oracle for what admin-only entries hold (a shell command line).
   */
  readonly searchable?: readonly string[];
  /** Only the entries of requests made in this chat. */
  readonly chat?: number;
}

/** Newest entries looked at by one query: bounds its cost on a large log. */
export const SCAN_MAX = 100_000;

/** An entry's field as SQL: text in PostgreSQL (its `->>`), SQLite's own type in SQLite. */
const fieldOf = (pg: boolean) => (name: string) =>
  pg ? `(entry::jsonb ->> '${name}')` : `json_extract(entry, '$.${name}')`;

export class AuditQuery {
  private readonly headSeq;
  private readonly pg: boolean;

  constructor(
    private readonly db: Db,
    private readonly audit: AuditLog,
    /** Audit names of a transport's "@name", from what the app has seen of them. */
    private readonly resolve: (handle: string) => readonly string[],
  ) {
    this.headSeq = db.prepare<[], number | null>('SELECT max(seq) FROM audit').pluck();
    this.pg = isPostgres(db);
  }

  /** Entries matching `f`, newest first; or a one-line message when a name is unknown. */
  find(f: AuditFilter, o: AuditQueryOptions): AuditEntry[] | string {
    const people = [...f.people];
    for (const h of f.handles) {
      const ids = this.resolve(h);
      if (ids.length === 0)
        return (
          `${h} is not known here yet (names are learned from approval requests); ` +
          `use their audit name, e.g. tg:<id> (/whoami shows the id)`
        );
      people.push(...ids);
    }
    const field = fieldOf(this.pg);
    const where: string[] = ['seq > ?'];
    const args: (string | number)[] = [Math.max(0, (this.headSeq.get() ?? 0) - SCAN_MAX)];
    const anyOf = (expr: string, values: readonly string[]) => {
      if (values.length === 0) return;
      where.push(`${expr} IN (${values.map(() => '?').join(', ')})`);
      args.push(...values);
    };
    anyOf(field('operator'), people);
    anyOf(field('outcome'), f.outcomes);
    if (o.chat !== undefined) {
      where.push(`${field('chat')} = ?`);
      args.push(this.pg ? String(o.chat) : o.chat);
    }
    if (f.actions.length > 0) {
      const exact = f.actions.filter((a) => !a.endsWith('.*'));
      const families = f.actions.filter((a) => a.endsWith('.*')).map((a) => a.slice(0, -1));
      where.push(
        `(${[
          ...(exact.length ? [`${field('action')} IN (${exact.map(() => '?').join(', ')})`] : []),
          ...families.map(() => `substr(${field('action')}, 1, ?) = ?`),
        ].join(' OR ')})`,
      );
      args.push(...exact, ...families.flatMap((p) => [p.length, p]));
    }
    if (f.withinMs !== undefined) {
      where.push(`${field('ts')} >= ?`);
      args.push(new Date(o.now - f.withinMs).toISOString());
    }
    if (f.target !== undefined) {
      where.push(`${this.pg ? 'strpos' : 'instr'}(lower(${field('target')}), ?) > 0`);
      args.push(f.target.toLowerCase());
      if (o.searchable) anyOf(field('action'), o.searchable.length ? o.searchable : ['']);
    }
    const sql = `SELECT seq, entry FROM audit WHERE ${where.join(' AND ')} ORDER BY seq DESC LIMIT ?`;
    const rows = this.db.prepare<(string | number)[], { seq: number; entry: unknown }>(sql).all(...args, o.limit);
    return this.audit.decode(rows);
  }
}
