import { createRequire } from 'node:module';
import type { Db } from '../core/sqlite.js';

/** What teleops uses of libpq's synchronous client (the `libpq` package ships no types). */
interface Pq {
  connectSync(conninfo: string): void;
  finish(): void;
  exec(sql: string): void;
  prepare(name: string, sql: string, nParams: number): void;
  execPrepared(name: string, params: (string | null)[]): void;
  resultStatus(): string;
  resultErrorMessage(): string;
  resultErrorFields(): { sqlState?: string } | undefined;
  errorMessage(): string;
  ntuples(): number;
  nfields(): number;
  fname(i: number): string;
  ftype(i: number): number;
  getvalue(row: number, col: number): string;
  getisnull(row: number, col: number): boolean;
  cmdTuples(): string;
}

/** A PostgreSQL error as SQLite's are shaped: `code` is the SQLSTATE (e.g. 23505, a duplicate key). */
export class PgError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = 'PgError';
  }
}

/** Type OIDs whose text form is a number (int2, int4, int8, oid, float4, float8, numeric). */
const NUMERIC = new Set([20, 21, 23, 26, 700, 701, 1700]);
const BOOL = 16;
const BYTEA = 17;

/** Key of the advisory lock that `.immediate` transactions hold: writers that must not interleave. */
const WRITER_LOCK = 0x7465_6c65;

type Mode = 'object' | 'pluck' | 'raw';
type Param = string | number | bigint | boolean | Buffer | null | undefined;

/**
 * SQLite's `?` and `@name` placeholders as PostgreSQL's `$n`, outside quotes and comments; `names`
 * holds, for each `$n`, the named parameter it takes (empty for positional statements).
 */
export function placeholders(sql: string): { text: string; names: string[]; count: number } {
  let out = '';
  const names: string[] = [];
  let count = 0;
  for (let i = 0; i < sql.length; i++) {
    const c = sql[i]!;
    if (c === "'" || c === '"') {
      const end = sql.indexOf(c, i + 1);
      const stop = end === -1 ? sql.length : end;
      out += sql.slice(i, stop + 1);
      i = stop;
    } else if (c === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i);
      const stop = end === -1 ? sql.length : end;
      out += sql.slice(i, stop);
      i = stop - 1;
    } else if (c === '?') {
      out += `$${++count}`;
    } else if (c === '@' && /[A-Za-z_]/.test(sql[i + 1] ?? '')) {
      const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(sql.slice(i + 1))![0];
      let n = names.indexOf(name);
      if (n === -1) n = names.push(name) - 1;
      out += `$${n + 1}`;
      i += name.length;
    } else {
      out += c;
    }
  }
  return { text: out, names, count: Math.max(count, names.length) };
}

function encode(v: Param): string | null {
  if (v === null || v === undefined) return null;
  if (Buffer.isBuffer(v)) return `\\x${v.toString('hex')}`;
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  return String(v);
}

class Statement {
  private name: string | undefined;
  private mode: Mode = 'object';
  private readonly sql;

  constructor(
    private readonly db: PgDb,
    source: string,
  ) {
    this.sql = placeholders(source);
  }

  pluck(on = true): this {
    this.mode = on ? 'pluck' : 'object';
    return this;
  }

  raw(on = true): this {
    this.mode = on ? 'raw' : 'object';
    return this;
  }

  run(...args: unknown[]): { changes: number; lastInsertRowid: number } {
    const pq = this.execute(args);
    return { changes: Number(pq.cmdTuples() || 0), lastInsertRowid: 0 };
  }

  get(...args: unknown[]): unknown {
    return this.rows(args, 1)[0];
  }

  all(...args: unknown[]): unknown[] {
    return this.rows(args, Infinity);
  }

  iterate(...args: unknown[]): IterableIterator<unknown> {
    return this.all(...args)[Symbol.iterator]();
  }

  private rows(args: unknown[], max: number): unknown[] {
    const pq = this.execute(args);
    const n = Math.min(pq.ntuples(), max);
    const cols = pq.nfields();
    const decode = Array.from({ length: cols }, (_, c) => decoder(pq.ftype(c)));
    const value = (r: number, c: number) => (pq.getisnull(r, c) ? null : decode[c]!(pq.getvalue(r, c)));
    const out: unknown[] = [];
    for (let r = 0; r < n; r++) {
      if (this.mode === 'pluck') out.push(value(r, 0));
      else if (this.mode === 'raw') out.push(Array.from({ length: cols }, (_, c) => value(r, c)));
      else {
        const row: Record<string, unknown> = {};
        for (let c = 0; c < cols; c++) row[pq.fname(c)] = value(r, c);
        out.push(row);
      }
    }
    return out;
  }

  private execute(args: unknown[]): Pq {
    const { names, count } = this.sql;
    let values: Param[];
    if (names.length > 0) {
      const bag = (args[0] ?? {}) as Record<string, Param>;
      values = names.map((k) => {
        if (!(k in bag)) throw new RangeError(`missing named parameter "${k}"`);
        return bag[k];
      });
    } else {
      if (args.length !== count) throw new RangeError(`${count} parameters expected, ${args.length} given`);
      values = args as Param[];
    }
    const pq = this.db.connection;
    if (this.name === undefined) {
      const name = this.db.nextName();
      pq.prepare(name, this.sql.text, count);
      this.db.check(pq, this.sql.text);
      this.name = name;
    }
    pq.execPrepared(this.name, values.map(encode));
    this.db.check(pq, this.sql.text);
    return pq;
  }
}

function decoder(oid: number): (text: string) => unknown {
  if (NUMERIC.has(oid)) return Number;
  if (oid === BOOL) return (t) => t === 't';
  if (oid === BYTEA) return (t) => Buffer.from(t.slice(2), 'hex');
  return (t) => t;
}

type Fn = (...args: never[]) => unknown;

/** Connections closed this turn of the event loop, kept from the collector (see PgDb.close). */
const closing = new Set<Pq>();

/**
 * One synchronous connection to PostgreSQL behind the part of better-sqlite3's API the stores
 * use, so that every repository runs unchanged on either. Synchronous on purpose: each state
 * change is decided before the action it guards runs, as with SQLite; `statement_timeout`
 * bounds how long a stalled server can hold the process.
 */
export class PgDb {
  readonly dialect = 'postgres';
  readonly memory = false;
  readonly name: string;
  readonly connection: Pq;
  private depth = 0;
  private statements = 0;
  open = true;

  constructor(
    private readonly url: string,
    private readonly opts: { statementTimeoutMs?: number } = {},
  ) {
    const PQ = loadLibpq();
    this.connection = new PQ();
    this.name = redactUrl(url);
    try {
      this.connection.connectSync(url);
    } catch (e) {
      throw new PgError(`cannot connect to ${this.name}: ${firstLine((e as Error).message)}`, '08001');
    }
    // libpq prints notices on stderr itself; teleops says what matters in its own words.
    this.exec('SET client_min_messages = warning');
    this.exec(`SET statement_timeout = ${Math.trunc(opts.statementTimeoutMs ?? 10_000)}`);
    this.exec(`SET lock_timeout = ${Math.trunc(opts.statementTimeoutMs ?? 10_000)}`);
  }

  /** Another connection to the same database: for a long read that must not hold this one. */
  connectAgain(): PgDb {
    return new PgDb(this.url, this.opts);
  }

  get inTransaction(): boolean {
    return this.depth > 0;
  }

  nextName(): string {
    return `s${++this.statements}`;
  }

  /** Throws the last command's error, if it failed. */
  check(pq: Pq, sql: string): void {
    const status = pq.resultStatus();
    if (status === 'PGRES_COMMAND_OK' || status === 'PGRES_TUPLES_OK' || status === 'PGRES_EMPTY_QUERY') return;
    const message = firstLine(pq.resultErrorMessage() || pq.errorMessage()) || status;
    const code = pq.resultErrorFields()?.sqlState ?? '08006';
    throw new PgError(`${message} (in: ${firstLine(sql).slice(0, 80)})`, code);
  }

  prepare(sql: string): Statement {
    return new Statement(this, sql);
  }

  exec(sql: string): this {
    this.connection.exec(sql);
    this.check(this.connection, sql);
    return this;
  }

  /** Answers what AuditLog asks: every commit is durable (synchronous_commit is on by default). */
  pragma(source: string, opts?: { simple?: boolean }): unknown {
    if (source === 'synchronous' && opts?.simple) return 2;
    throw new Error(`PRAGMA ${source} is SQLite's; this database is PostgreSQL`);
  }

  /**
   * As better-sqlite3's: the returned function runs `fn` in a transaction (a savepoint when
   * nested). `.immediate` also takes the writers' advisory lock, as SQLite's BEGIN IMMEDIATE
   * takes its write lock: the audit chain reads its head and appends under it, so replicas
   * never fork it.
   */
  transaction<F extends Fn>(fn: F): F & { default: F; deferred: F; immediate: F; exclusive: F } {
    const run = (lock: boolean) =>
      ((...args: Parameters<F>) => {
        const nested = this.depth > 0;
        const savepoint = `sp${this.depth}`;
        this.exec(nested ? `SAVEPOINT ${savepoint}` : 'BEGIN');
        this.depth++;
        try {
          if (lock) this.exec(`SELECT pg_advisory_xact_lock(${WRITER_LOCK})`);
          const result = fn(...args);
          this.depth--;
          this.exec(nested ? `RELEASE SAVEPOINT ${savepoint}` : 'COMMIT');
          return result;
        } catch (e) {
          this.depth--;
          try {
            this.exec(nested ? `ROLLBACK TO SAVEPOINT ${savepoint}` : 'ROLLBACK');
          } catch {
            // The connection is gone: the server has rolled the transaction back itself.
          }
          throw e;
        }
      }) as F;
    return Object.assign(run(false), {
      default: run(false),
      deferred: run(false),
      immediate: run(true),
      exclusive: run(true),
    });
  }

  close(): void {
    if (!this.open) return;
    this.open = false;
    this.connection.finish();
    // finish() leaves libpq's poll handle closing until the loop turns, in the connection's
    // own memory: collected before then, the loop reads freed memory and aborts the process.
    const conn = this.connection;
    closing.add(conn);
    setImmediate(() => setImmediate(() => closing.delete(conn)));
  }

  /** This connection as the stores take it: they use only what PgDb implements (test/store/engines.test.ts). */
  asDb(): Db {
    return this as unknown as Db;
  }
}

function loadLibpq(): new () => Pq {
  try {
    return createRequire(import.meta.url)('libpq') as new () => Pq;
  } catch (e) {
    throw new PgError(
      `DATABASE_URL is PostgreSQL, but its client (the optional npm package libpq, built against ` +
        `libpq-dev) is not installed: ${firstLine((e as Error).message)}`,
      '08001',
    );
  }
}

const firstLine = (s: string): string => s.trim().split('\n')[0] ?? '';

/** The URL without its password, to name the database in messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'the database in DATABASE_URL';
  }
}
