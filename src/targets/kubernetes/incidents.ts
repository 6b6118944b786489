import type { Db } from '../../core/sqlite.js';

/** The Kubernetes module's tables, recorded as its migrations. */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE kube_incidents (
    key      TEXT PRIMARY KEY,     -- the alert's key
    instance TEXT NOT NULL         -- which occurrence (an OOM kill's time), '' for the others
  );
  `,
];

export const POSTGRES: readonly string[] = [
  `
  CREATE TABLE kube_incidents (
    key      text PRIMARY KEY,
    instance text NOT NULL
  );
  `,
];

/** Where open incidents are kept beyond the process: a restart, or the next leader, knows what was alerted. */
export interface IncidentStore {
  load(): [string, string][];
  open(key: string, instance: string): void;
  close(key: string): void;
  clear(): void;
}

export function incidentStore(db: Db): IncidentStore {
  const all = db.prepare<[], { key: string; instance: string }>('SELECT key, instance FROM kube_incidents');
  const put = db.prepare(
    'INSERT INTO kube_incidents (key, instance) VALUES (?, ?) ' +
      'ON CONFLICT (key) DO UPDATE SET instance = excluded.instance',
  );
  const del = db.prepare('DELETE FROM kube_incidents WHERE key = ?');
  const clear = db.prepare('DELETE FROM kube_incidents');
  return {
    load: () => all.all().map((r) => [r.key, r.instance]),
    open: (key, instance) => void put.run(key, instance),
    close: (key) => void del.run(key),
    clear: () => void clear.run(),
  };
}

/** Open incidents by alert key, written through to the store when there is one. */
export class OpenIncidents {
  private readonly m: Map<string, string>;

  constructor(private readonly store?: IncidentStore) {
    this.m = new Map(store?.load() ?? []);
  }

  get size(): number {
    return this.m.size;
  }

  keys(): IterableIterator<string> {
    return this.m.keys();
  }

  get(key: string): string | undefined {
    return this.m.get(key);
  }

  has(key: string): boolean {
    return this.m.has(key);
  }

  set(key: string, instance: string): void {
    if (this.m.get(key) === instance) return;
    this.m.set(key, instance);
    this.store?.open(key, instance);
  }

  delete(key: string): void {
    if (this.m.delete(key)) this.store?.close(key);
  }

  clear(): void {
    this.m.clear();
    this.store?.clear();
  }
}
