import type { Db } from '../core/sqlite.js';

type Statement = ReturnType<Db['prepare']>;
type Transaction = ReturnType<Db['transaction']>;
type Callable = (...args: unknown[]) => unknown;

/** Statement methods that set how it runs and return it: set again on a new connection. */
const SETTINGS = new Set<PropertyKey>(['pluck', 'raw', 'expand', 'safeIntegers', 'bind']);

/**
 * A database handle whose connection can be replaced under everything that holds it. A start on
 * a state directory that cannot be written runs on a copy in memory; once the directory can be
 * written, the database on disk takes the copy's place without a restart. Statements and
 * transactions made before are made again on the new connection at their next use (SQLite's
 * calls are synchronous, so none is in progress while the connection is replaced).
 */
export class Reopenable {
  readonly db: Db;
  private current: Db;
  private generation = 0;

  constructor(first: Db) {
    this.current = first;
    this.db = new Proxy(first, {
      get: (_, prop) => {
        if (prop === 'prepare') return (sql: string) => this.statement(sql);
        if (prop === 'transaction') return (fn: Callable) => this.transaction(fn);
        const v: unknown = Reflect.get(this.current, prop, this.current);
        return typeof v === 'function' ? (v as Callable).bind(this.current) : v;
      },
    });
  }

  /** Puts `next` in the place of the current connection, which is closed. */
  replace(next: Db): void {
    const old = this.current;
    this.current = next;
    this.generation++;
    old.close();
  }

  private statement(sql: string): Statement {
    const settings: [PropertyKey, unknown[]][] = [];
    let made = { generation: this.generation, stmt: this.current.prepare(sql) };
    const stmt = (): Statement => {
      if (made.generation !== this.generation) {
        let s = this.current.prepare(sql);
        for (const [name, args] of settings) s = (Reflect.get(s, name) as Callable).apply(s, args) as Statement;
        made = { generation: this.generation, stmt: s };
      }
      return made.stmt;
    };
    const proxy: Statement = new Proxy(made.stmt, {
      get: (_, prop) => {
        const s = stmt();
        const v: unknown = Reflect.get(s, prop, s);
        if (typeof v !== 'function') return v;
        if (!SETTINGS.has(prop)) return (v as Callable).bind(s);
        return (...args: unknown[]) => {
          (v as Callable).apply(s, args);
          settings.push([prop, args]);
          return proxy;
        };
      },
    });
    return proxy;
  }

  private transaction(fn: Callable): Transaction {
    let made: { generation: number; tx: Transaction } | undefined;
    const tx = (): Transaction => {
      if (made?.generation !== this.generation)
        made = { generation: this.generation, tx: this.current.transaction(fn) };
      return made.tx;
    };
    const kind = (k?: 'deferred' | 'immediate' | 'exclusive') =>
      function (this: unknown, ...args: unknown[]): unknown {
        const t = tx();
        return (k ? t[k] : t).apply(this, args);
      };
    return Object.assign(kind(), {
      default: kind(),
      deferred: kind('deferred'),
      immediate: kind('immediate'),
      exclusive: kind('exclusive'),
    }) as unknown as Transaction;
  }
}
