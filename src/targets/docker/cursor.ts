import type { Db } from '../../core/sqlite.js';

/** The Docker module's tables, recorded as its migrations. */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE docker_events (
    host  TEXT PRIMARY KEY,
    since INTEGER NOT NULL,        -- Engine event time (s) of the last event handled
    seen  TEXT NOT NULL            -- JSON: the events of that second already handled
  );
  `,
];

export const POSTGRES: readonly string[] = [
  `
  CREATE TABLE docker_events (
    host  text PRIMARY KEY,
    since bigint NOT NULL,
    seen  text NOT NULL
  );
  `,
];

/** Where the event watcher resumes: the second of the last event handled, and that second's events. */
export interface EventCursor {
  load(): { since: number; seen: string[] } | undefined;
  save(since: number, seen: readonly string[]): void;
}

/**
 * A host's cursor in the database: a restart, or a new leader among replicas, resumes the
 * Engine's event stream where the last watcher left it, so an incident in between is
 * reported, and one already reported is not reported again.
 */
export function eventCursor(db: Db, host: string): EventCursor {
  const get = db.prepare<[string], { since: number; seen: string }>(
    'SELECT since, seen FROM docker_events WHERE host = ?',
  );
  const put = db.prepare(
    'INSERT INTO docker_events (host, since, seen) VALUES (?, ?, ?) ' +
      'ON CONFLICT (host) DO UPDATE SET since = excluded.since, seen = excluded.seen',
  );
  return {
    load() {
      const r = get.get(host);
      return r && { since: r.since, seen: JSON.parse(r.seen) as string[] };
    },
    save(since, seen) {
      put.run(host, since, JSON.stringify(seen));
    },
  };
}
