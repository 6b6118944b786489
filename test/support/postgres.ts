/**
 * A private PostgreSQL server for tests and benchmarks: Debian's postgresql package, a cluster
 * made by initdb in a temporary directory, on a free port of 127.0.0.1 and a socket in that
 * directory; run as the unprivileged `postgres` user when the tests run as root (initdb refuses
 * root). Each test takes a database of its own (`database()`). Plain Node: usable outside vitest.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const BIN = '/usr/lib/postgresql/15/bin';

export interface Postgres {
  /** A new, empty database on the server; its URL. */
  database(): Promise<string>;
  /** The URL of a database (`postgres` by default). */
  url(db?: string): string;
  /** Runs SQL as the superuser (psql), for setup and for what an attacker with access would do. */
  psql(db: string, sql: string): Promise<string>;
  stop(): Promise<void>;
}

/** Why PostgreSQL cannot run here, or undefined. */
export function postgresPrerequisites(): string | undefined {
  if (!existsSync(join(BIN, 'initdb'))) return 'PostgreSQL 15 not installed (Debian package postgresql)';
  if (process.getuid?.() === 0 && !userExists('postgres')) return 'no postgres user to run the server as';
  return undefined;
}

function userExists(name: string): boolean {
  try {
    execFileSync('id', ['-u', name], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface StartOptions {
  /**
   * Commits reach the disk before they return (fsync on, synchronous_commit on), as a production
   * server runs. Default off: tests need no durability and fsync only slows them.
   */
  readonly durable?: boolean;
}

export async function startPostgres(opts: StartOptions = {}): Promise<Postgres> {
  const why = postgresPrerequisites();
  if (why) throw new Error(why);
  const dir = await mkdtemp(join(tmpdir(), 'teleops-pg-'));
  const asRoot = process.getuid?.() === 0;
  // The server runs as `postgres`, which must own its directory.
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString());
    await chown(dir, uid, gid);
  }
  await chmod(dir, 0o700);
  const as = (cmd: string, args: string[]) =>
    asRoot ? run('runuser', ['-u', 'postgres', '--', cmd, ...args]) : run(cmd, args);
  const data = join(dir, 'data');
  await as(join(BIN, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'teleops', '--no-sync', '-E', 'UTF8']);
  const port = await freePort();
  const durability = opts.durable ? '-c fsync=on -c synchronous_commit=on' : '-c fsync=off';
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 ${durability} -c max_connections=200`;
  await as(join(BIN, 'pg_ctl'), ['-D', data, '-o', options, '-l', join(dir, 'log'), '-w', 'start']);
  const url = (db = 'postgres') => `postgres://teleops@127.0.0.1:${port}/${db}`;
  let n = 0;
  const psql = async (db: string, sql: string) =>
    (await run('psql', ['-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-d', url(db), '-c', sql])).stdout;
  return {
    url,
    psql,
    async database() {
      const name = `t${process.pid}_${++n}`;
      await psql('postgres', `CREATE DATABASE ${name}`);
      return url(name);
    },
    async stop() {
      await as(join(BIN, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
