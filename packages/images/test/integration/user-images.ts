/**
 * Users' images for the tests, made here from the Debian base bot-bottle builds (or whichever base
 * the standard images use), never pulled: each tagged `bot-bottle-test-<name>:<hash of its base and
 * Dockerfile>` and labelled, built once per machine and reused (like the standard images).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { docker } from '@bot-bottle/backend-kit';
import { ensureImages, localDebianBase, type EnsuredImages } from '../../src/index.js';

export const TEST_IMAGE_LABEL = 'bot-bottle-test.image=1';

/** apt in docker builds here goes through NAT to Debian's mirror over http (TESTING.md). */
const APT = 'apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends';

/** A Python project's image without Node: python3 and pytest from Debian, the base's Node removed. */
export const PYTHON_DOCKERFILE = `ARG BASE
FROM \${BASE}
RUN ${APT} python3 python3-pytest && rm -rf /var/lib/apt/lists/* \\
 && rm -rf /usr/local/bin/node /usr/local/bin/npm /usr/local/bin/npx /usr/local/lib/node_modules
`;

/**
 * An image without a package manager or the tools bot-bottle's provisioners use: uid 1000 is "app",
 * no useradd, no ca-certificates (so no update-ca-certificates), no tar, no runuser, no apt or dpkg.
 */
export const BARE_DOCKERFILE = `ARG BASE
FROM \${BASE}
RUN usermod -l app -d /home/app -m node && groupmod -n app node \\
 && DEBIAN_FRONTEND=noninteractive apt-get purge -y ca-certificates \\
 && rm -rf /usr/local/bin/node /usr/local/bin/npm /usr/local/bin/npx /usr/local/lib/node_modules \\
 && rm -f /usr/sbin/useradd /usr/sbin/groupadd /usr/sbin/usermod /usr/sbin/userdel /usr/sbin/groupmod /usr/sbin/adduser /usr/sbin/runuser \\
 && rm -rf /usr/bin/apt* /usr/bin/dpkg* /var/lib/dpkg /var/lib/apt /etc/apt /usr/lib/apt \\
 && rm -f /usr/bin/tar /bin/tar
`;

/** Like Alpine where it matters: a static busybox as /bin/sh and a musl loader, no glibc. */
export const MUSL_LIKE_DOCKERFILE = `ARG BASE
FROM \${BASE} AS busybox
RUN ${APT} busybox-static && cp "$(command -v busybox)" /busybox
FROM scratch
COPY --from=busybox /busybox /bin/busybox
RUN ["/bin/busybox", "sh", "-c", "/bin/busybox --install -s /bin && mkdir -p /lib && echo musl > /lib/ld-musl-x86_64.so.1"]
`;

/** No shell at all: one file on scratch. */
export const NO_SHELL_DOCKERFILE = `FROM scratch
COPY hello.txt /hello.txt
`;

let standard: Promise<EnsuredImages> | undefined;
/** The standard images (once per process), with the base and CAs the environment says. */
export function standardImages(): Promise<EnsuredImages> {
  standard ??= ensureImages({ progress: (m) => process.stderr.write(`  ${m}\n`) });
  return standard;
}

/** The Debian base bot-bottle built here (bot-bottle-base:*), else the base the standard images use. */
export async function debianBase(): Promise<string> {
  return (await localDebianBase()) ?? (await standardImages()).choice.base;
}

const built = new Map<string, Promise<string>>();

/** Builds (once: the tag is a hash of base and Dockerfile) a test image; returns its tag. */
export function testImage(name: string, dockerfile: string, files: Record<string, string> = {}): Promise<string> {
  const key = `${name}\0${dockerfile}`;
  let p = built.get(key);
  if (!p) {
    p = (async () => {
      const base = await debianBase();
      const baseId = (await docker(['image', 'inspect', '--format', '{{.Id}}', base])).stdout.trim();
      const h = createHash('sha256').update(baseId).update('\0').update(dockerfile);
      for (const [f, t] of Object.entries(files)) h.update(`\0${f}\0${t}`);
      const tag = `bot-bottle-test-${name}:${h.digest('hex').slice(0, 12)}`;
      if ((await docker(['image', 'inspect', '--format', '{{.Id}}', tag])).exitCode === 0) return tag;
      const dir = await mkdtemp(path.join(tmpdir(), 'bbtest-userimg-'));
      try {
        await writeFile(path.join(dir, 'Dockerfile'), dockerfile);
        for (const [f, t] of Object.entries(files)) await writeFile(path.join(dir, f), t);
        process.stderr.write(`  building test image ${tag}\n`);
        const r = await docker(['build', '--label', TEST_IMAGE_LABEL, '--build-arg', `BASE=${base}`, '-t', tag, dir], { timeoutMs: 20 * 60_000 });
        if (r.exitCode !== 0) throw new Error(`building test image ${name} failed:\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
      return tag;
    })();
    built.set(key, p);
  }
  return p;
}

export const pythonImage = () => testImage('python', PYTHON_DOCKERFILE);
export const bareImage = () => testImage('bare', BARE_DOCKERFILE);
export const muslLikeImage = () => testImage('musl-like', MUSL_LIKE_DOCKERFILE);
export const noShellImage = () => testImage('no-shell', NO_SHELL_DOCKERFILE, { 'hello.txt': 'hello\n' });

/**
 * An Ubuntu image as the registry's ubuntu:22.04 is where it matters (uid 1000 is "ubuntu", as in
 * ubuntu:24.04), with python3 and pytest: made with debootstrap from Ubuntu's archive (over http,
 * as Debian's), so it needs root and debootstrap; null when this machine cannot make it. The Ubuntu
 * keyring is not installed on a Debian host, so the download is not signature-checked: the image
 * serves only this test. Built once per machine (the tag is a hash of the recipe).
 */
export const UBUNTU_RECIPE = `jammy minbase http://archive.ubuntu.com/ubuntu
RUN echo "deb http://archive.ubuntu.com/ubuntu jammy main universe" > /etc/apt/sources.list \\
 && apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 python3-pytest ca-certificates \\
 && rm -rf /var/lib/apt/lists/* && useradd -m -u 1000 -s /bin/bash ubuntu
`;
let ubuntu: Promise<string | null> | undefined;
export function ubuntuImage(): Promise<string | null> {
  ubuntu ??= (async () => {
    const tag = `bot-bottle-test-ubuntu:${createHash('sha256').update(UBUNTU_RECIPE).digest('hex').slice(0, 12)}`;
    if ((await docker(['image', 'inspect', '--format', '{{.Id}}', tag])).exitCode === 0) return tag;
    const hasDebootstrap = ['/usr/sbin/debootstrap', '/sbin/debootstrap', '/usr/bin/debootstrap'].some((p) => {
      try {
        execFileSync('test', ['-x', p]);
        return true;
      } catch {
        return false;
      }
    });
    if (process.getuid?.() !== 0 || !hasDebootstrap) return null;
    const dir = await mkdtemp(path.join(tmpdir(), 'bbtest-ubuntu-'));
    try {
      const [suite, variant, mirror] = UBUNTU_RECIPE.split('\n')[0]!.split(' ');
      process.stderr.write(`  debootstrap ${suite} for the Ubuntu test image\n`);
      execFileSync('debootstrap', [`--variant=${variant}`, '--no-check-gpg', suite!, path.join(dir, 'root'), mirror!], { stdio: 'ignore', timeout: 15 * 60_000 });
      const raw = `${tag}-raw`;
      execFileSync('sh', ['-c', 'tar -C "$1" -c . | docker import -c "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" -c \'CMD ["bash"]\' - "$2" >/dev/null', 'sh', path.join(dir, 'root'), raw], { timeout: 10 * 60_000 });
      await writeFile(path.join(dir, 'Dockerfile'), `FROM ${raw}\n${UBUNTU_RECIPE.split('\n').slice(1).join('\n')}`);
      const r = await docker(['build', '--label', TEST_IMAGE_LABEL, '-t', tag, '-f', path.join(dir, 'Dockerfile'), dir], { timeoutMs: 20 * 60_000 });
      await docker(['image', 'rm', raw]);
      if (r.exitCode !== 0) throw new Error(`building the Ubuntu test image failed:\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
      return tag;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  })();
  return ubuntu;
}
