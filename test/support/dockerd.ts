/**
 * A private Docker daemon for tests and benchmarks: its own socket, data root, exec root and
 * pidfile under temporary directories, no bridge and no iptables (containers use
 * `--network none`), vfs storage, and a busybox image imported from the host's
 * busybox-static (no registry is reachable). Plain Node: usable outside vitest too.
 */
import Docker from 'dockerode';
import { execFile, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, copyFile, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { childrenByParent } from './procs.js';

const run = promisify(execFile);

export const TEST_IMAGE = 'teleops-test/busybox:latest';
/** Every test container carries it, so that leftovers can be found and removed. */
export const TEST_LABEL = 'teleops-test';
/** Which test file (or bench) made a container, so each removes only its own. */
export const SUITE_LABEL = 'teleops-test.suite';

export interface DockerdInfo {
  /** DOCKER_HOST for the daemon, unix://…/docker.sock */
  readonly host: string;
  readonly socketPath: string;
  readonly pid: number;
  /** Directories to remove after the daemon has stopped. */
  readonly dirs: readonly string[];
  readonly image: string;
}

/** What the first worker wrote for the others (and for the global teardown). */
export type SharedState =
  { readonly ok: true; readonly info: DockerdInfo } | { readonly ok: false; readonly reason: string };
export const STATE_FILE = 'state.json';
/** Pid of the process whose end must stop the daemon (the vitest main process). */
export const OWNER_FILE = 'owner.pid';

export class DockerdUnavailable extends Error {
  override readonly name = 'DockerdUnavailable';
}

const REAPER = fileURLToPath(new URL('./dockerd-reaper.mjs', import.meta.url));
const BUSYBOX_CANDIDATES = ['/bin/busybox', '/usr/bin/busybox'];
const DOCKERD_CANDIDATES = ['/usr/sbin/dockerd', '/usr/bin/dockerd'];

/** Reasons this machine cannot run dockerd at all, before trying. */
export function dockerdPrerequisites(): string | undefined {
  if (process.platform !== 'linux') return `dockerd needs Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'dockerd needs root (run the tests as root, or in CI)';
  if (!DOCKERD_CANDIDATES.some((p) => existsSync(p))) return 'dockerd not installed (Debian package docker.io)';
  if (!BUSYBOX_CANDIDATES.some((p) => existsSync(p))) return 'busybox not installed (Debian package busybox-static)';
  return undefined;
}

/** GET /_ping on a unix socket; true on "OK". */
export function pingSocket(socketPath: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path: '/_ping', method: 'GET', timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
      res.on('error', () => resolve(false));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts dockerd detached (so it may outlive the process that started it; `stopDockerd`
 * ends it), waits for /_ping, and imports the busybox image. `baseDir` must be short:
 * the socket path must fit in a sockaddr_un (108 bytes).
 */
export async function startDockerd(
  opts: { baseDir?: string; readyTimeoutMs?: number; ownerPid?: number; extraArgs?: readonly string[] } = {},
): Promise<DockerdInfo> {
  const missing = dockerdPrerequisites();
  if (missing) throw new DockerdUnavailable(missing);
  const base = opts.baseDir ?? (await mkdtemp('/tmp/tod-'));
  // containerd's sockets live under the exec root; keep it as short as possible.
  const execRoot = await mkdtemp('/tmp/tx-');
  const socketPath = join(base, 'docker.sock');
  const dataRoot = join(base, 'data');
  const pidfile = join(base, 'docker.pid');
  const logPath = join(base, 'dockerd.log');
  await mkdir(dataRoot, { recursive: true });
  const dockerd = DOCKERD_CANDIDATES.find((p) => existsSync(p))!;
  const logFd = openSync(logPath, 'a');
  const child = spawn(
    dockerd,
    [
      '--storage-driver=vfs',
      '--iptables=false',
      '--ip6tables=false',
      '--bridge=none',
      '--host',
      `unix://${socketPath}`,
      '--data-root',
      dataRoot,
      '--exec-root',
      execRoot,
      '--pidfile',
      pidfile,
      '--log-level',
      'warn',
      // Containers that ignore SIGTERM (sleep as PID 1) must not hold up the teardown.
      '--shutdown-timeout',
      '2',
      // e.g. a second, TLS-verified tcp listener (--host tcp://… --tlsverify …)
      ...(opts.extraArgs ?? []),
    ],
    { detached: true, stdio: ['ignore', logFd, logFd], env: { ...process.env, DOCKER_HOST: '' } },
  );
  closeSync(logFd);
  child.unref();
  const pid = child.pid;
  const dirs = [base, execRoot];
  const fail = async (why: string): Promise<never> => {
    const tail = existsSync(logPath) ? (await readFile(logPath, 'utf8')).trim().split('\n').slice(-5).join(' | ') : '';
    if (pid !== undefined) await stopDockerd({ pid, dirs });
    throw new DockerdUnavailable(`${why}${tail ? `; dockerd log: ${tail.slice(0, 800)}` : ''}`);
  };
  if (pid === undefined) return fail('dockerd did not start');
  // Detached, dockerd would outlive a test run that is killed before its teardown.
  spawn(process.execPath, [REAPER, String(opts.ownerPid ?? process.pid), String(pid), ...dirs], {
    detached: true,
    stdio: 'ignore',
  }).unref();
  let exited = false;
  child.once('exit', () => (exited = true));
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 60_000);
  while (!(await pingSocket(socketPath))) {
    if (exited) return fail('dockerd exited during start-up');
    if (Date.now() > deadline) return fail('dockerd did not answer /_ping in time');
    await sleep(100);
  }
  const host = `unix://${socketPath}`;
  try {
    await importBusybox(new Docker({ socketPath }), TEST_IMAGE);
  } catch (e) {
    return fail(`could not import the busybox image: ${(e as Error).message}`);
  }
  return { host, socketPath, pid, dirs, image: TEST_IMAGE };
}

/** SIGTERM, then SIGKILL (to dockerd and whatever it left running), then unmount and remove its directories. */
export async function stopDockerd(info: { pid: number; dirs: readonly string[] }): Promise<void> {
  if (alive(info.pid)) {
    process.kill(info.pid, 'SIGTERM');
    const deadline = Date.now() + 20_000;
    while (alive(info.pid) && Date.now() < deadline) await sleep(100);
    if (alive(info.pid)) process.kill(info.pid, 'SIGKILL');
  }
  // containerd and shims that outlived dockerd mention our directories on their command line;
  // the containers' processes below them (a PID 1 that ignores SIGTERM, say) do not.
  for (const pid of withDescendants(processesMentioning(info.dirs))) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const dir of info.dirs) await removeDir(dir);
}

function processesMentioning(dirs: readonly string[]): number[] {
  const out: number[] = [];
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8');
      if (dirs.some((d) => cmd.includes(d))) out.push(Number(e));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** The processes given and all below them, found before any is killed (their children would be reparented). */
function withDescendants(roots: readonly number[]): number[] {
  const children = childrenByParent();
  const all = new Set(roots);
  for (const pid of all) for (const c of children.get(pid) ?? []) all.add(c);
  return [...all];
}

/** rm -rf, after lazily unmounting anything (shm, netns) still mounted below `dir`. */
async function removeDir(dir: string): Promise<void> {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m): m is string => m !== undefined && (m === dir || m.startsWith(`${dir}/`)))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) {
    try {
      await run('umount', ['-l', m], { timeout: 10_000 });
    } catch {
      // not mounted any more
    }
  }
  await rm(dir, { recursive: true, force: true, maxRetries: 3 });
}

/** A rootfs with /bin/busybox and one symlink per applet, imported as `tag`. */
export async function importBusybox(docker: Docker, tag: string): Promise<void> {
  const busybox = BUSYBOX_CANDIDATES.find((p) => existsSync(p));
  if (!busybox) throw new DockerdUnavailable('busybox not installed (Debian package busybox-static)');
  const work = await mkdtemp(join(tmpdir(), 'teleops-rootfs-'));
  try {
    const root = join(work, 'root');
    for (const d of ['bin', 'etc', 'tmp', 'proc', 'sys', 'dev']) await mkdir(join(root, d), { recursive: true });
    await copyFile(busybox, join(root, 'bin', 'busybox'));
    const { stdout } = await run(busybox, ['--list'], { timeout: 10_000 });
    for (const applet of stdout.split('\n').map((s) => s.trim())) {
      if (/^[a-z0-9_.[-]+$/.test(applet) && applet !== 'busybox')
        await symlink('busybox', join(root, 'bin', applet)).catch(() => undefined);
    }
    await writeFile(join(root, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
    const tar = join(work, 'rootfs.tar');
    await run('tar', ['-C', root, '-cf', tar, '.'], { timeout: 60_000 });
    const [repo, version] = tag.split(':') as [string, string];
    const body = await readFile(tar);
    await new Promise<void>((resolve, reject) => {
      docker.modem.dial(
        {
          path: '/images/create?',
          method: 'POST',
          options: { fromSrc: '-', repo, tag: version ?? 'latest' },
          file: body,
          isStream: true,
          statusCodes: { 200: true, 500: 'server error' },
        },
        (err: unknown, res: unknown) => {
          if (err) return reject(err as Error);
          docker.modem.followProgress(res as NodeJS.ReadableStream, (e: Error | null) => (e ? reject(e) : resolve()));
        },
      );
    });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

export interface TestContainerSpec {
  readonly name: string;
  readonly cmd: readonly string[];
  readonly suite: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly env?: readonly string[];
  /** Memory limit (and memory+swap limit) in MiB. */
  readonly memoryMb?: number;
  readonly healthcheck?: { readonly test: readonly string[]; readonly intervalMs: number; readonly retries: number };
  readonly tty?: boolean;
  /** e.g. "on-failure", "always"; default "no". */
  readonly restart?: string;
  /** Default true. */
  readonly start?: boolean;
}

/** A labelled container with no network, from the test image. */
export async function createTestContainer(
  docker: Docker,
  spec: TestContainerSpec,
): Promise<{ id: string; name: string }> {
  const c = await docker.createContainer({
    name: spec.name,
    Image: TEST_IMAGE,
    Cmd: [...spec.cmd],
    Env: spec.env ? [...spec.env] : [],
    Tty: spec.tty ?? false,
    Labels: { [TEST_LABEL]: '1', [SUITE_LABEL]: spec.suite, ...spec.labels },
    ...(spec.healthcheck
      ? {
          Healthcheck: {
            Test: [...spec.healthcheck.test],
            Interval: spec.healthcheck.intervalMs * 1e6,
            Timeout: 2e9,
            Retries: spec.healthcheck.retries,
            StartPeriod: 0,
          },
        }
      : {}),
    HostConfig: {
      NetworkMode: 'none',
      ...(spec.restart ? { RestartPolicy: { Name: spec.restart, MaximumRetryCount: 0 } } : {}),
      ...(spec.memoryMb ? { Memory: spec.memoryMb * 1048576, MemorySwap: spec.memoryMb * 1048576 } : {}),
    },
  });
  if (spec.start ?? true) await c.start();
  return { id: c.id, name: spec.name };
}

/** Removes (forcibly) every container a suite made. */
export async function removeSuiteContainers(docker: Docker, suite: string): Promise<void> {
  const list = await docker.listContainers({ all: true, filters: { label: [`${SUITE_LABEL}=${suite}`] } });
  await Promise.all(
    list.map((c) =>
      docker
        .getContainer(c.Id)
        .remove({ force: true, v: true })
        .catch(() => undefined),
    ),
  );
}

/** Waits until `check` returns a value (not undefined), polling. */
export async function waitFor<T>(
  check: () => Promise<T | undefined> | T | undefined,
  what: string,
  timeoutMs = 15_000,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}
