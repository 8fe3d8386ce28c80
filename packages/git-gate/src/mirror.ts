/**
 * The bare mirrors the gate serves: `<dataDir>/repos/<name>.git`, made by the gate, refreshed from
 * the upstream before each request, with a pre-receive hook that forwards pushes.
 */
import { existsSync, lstatSync, mkdirSync, realpathSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadExeca } from './exec.js';
import { ServiceError } from '@bot-bottle/core/service';
import type { GateEntry } from './config.js';
import { localUpstreamConfig, localUpstreamEnv, shellQuote, upstreamGitEnv } from './ssh.js';

/** What the push hook needs, written beside the mirrors (paths only, never key material). */
export interface HookEntry {
  name: string;
  upstream: string;
  identityFile: string | null;
  knownHosts: string | null;
  push: boolean;
  protect: string[];
  /** Namespaces pushed beyond refs/heads/ and refs/tags/ (the entry's opt-in). */
  refs: string[];
  /** A global git config for a file:// upstream (its safe.directory), else absent. */
  gitConfigGlobal?: string;
  only?: string[];
  maxRefsPerPush?: number;
  auditLog: string | null;
  upstreamTimeoutMs: number;
}

export interface Mirror {
  entry: GateEntry;
  /** Absolute real path of the bare repository. */
  dir: string;
  /** A global git config for a file:// upstream (its safe.directory). */
  gitConfigGlobal?: string;
}

/** Env for git the gate runs on its own mirrors: no config from outside them. */
export function localGitEnv(base: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined && !k.startsWith('GIT_')) env[k] = v;
  return { ...env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', GIT_TERMINAL_PROMPT: '0' };
}

export function hookScriptPath(): string {
  return fileURLToPath(new URL('./pre-receive.js', import.meta.url));
}

function refuseSymlink(p: string, what: string): void {
  const st = lstatSync(p, { throwIfNoEntry: false });
  if (st?.isSymbolicLink()) {
    throw new ServiceError(`git-gate: ${what} ${p} is a symbolic link; the gate serves only folders it made itself`, {
      kind: 'config',
      suggestions: [`Remove ${p} (the gate recreates it), or give the gate an empty dataDir.`],
    });
  }
}

async function git(args: string[], cwd?: string): Promise<void> {
  const execa = await loadExeca();
  const r = await execa('git', args, { cwd, env: localGitEnv(), extendEnv: false, reject: false, timeout: 60_000 });
  if (r.exitCode !== 0) throw new ServiceError(`git-gate: git ${args.join(' ')} failed: ${(r.stderr || r.stdout || String(r.exitCode)).trim()}`);
}

/**
 * Makes (or re-checks) the mirror of each entry. Runs no network command: the first request
 * fetches. A symlink anywhere the gate would serve from is an error, never followed.
 */
export async function prepareMirrors(dataDir: string, entries: readonly GateEntry[], auditLog: string | null, upstreamTimeoutMs: number): Promise<{ reposDir: string; mirrors: Map<string, Mirror> }> {
  const hook = hookScriptPath();
  if (!existsSync(hook)) throw new ServiceError(`git-gate: its push hook ${hook} is missing; build the package (pnpm --filter @bot-bottle/git-gate build)`);
  mkdirSync(dataDir, { recursive: true });
  for (const sub of ['repos', 'entries']) {
    refuseSymlink(path.join(dataDir, sub), 'folder');
    mkdirSync(path.join(dataDir, sub), { recursive: true, mode: 0o700 });
  }
  const reposDir = realpathSync(path.join(dataDir, 'repos'));
  const entriesDir = realpathSync(path.join(dataDir, 'entries'));
  const mirrors = new Map<string, Mirror>();
  for (const entry of entries) {
    const dir = path.join(reposDir, `${entry.name}.git`);
    refuseSymlink(dir, 'mirror');
    if (!existsSync(path.join(dir, 'HEAD'))) await git(['init', '--quiet', '--bare', dir]);
    for (const [key, value] of [
      // Objects from the bottle are checked before anything is forwarded.
      ['receive.fsckObjects', 'true'],
      ['core.hooksPath', path.join(dir, 'hooks')],
      ['receive.advertisePushOptions', 'false'],
      ['uploadpack.allowFilter', 'true'],
    ] as const) {
      await git(['config', key, value], dir);
    }
    // A pack bigger than the entry allows is refused by receive-pack before it is stored.
    if (entry.maxPushBytes) await git(['config', 'receive.maxInputSize', String(entry.maxPushBytes)], dir);
    const localConfig = localUpstreamConfig(entry.upstream);
    const gitConfigGlobal = localConfig === null ? undefined : path.join(entriesDir, `${entry.name}.gitconfig`);
    if (gitConfigGlobal) writeFileSync(gitConfigGlobal, localConfig!, { mode: 0o600 });
    const hookEntry: HookEntry = {
      ...(gitConfigGlobal ? { gitConfigGlobal } : {}),
      name: entry.name,
      upstream: entry.upstream,
      identityFile: entry.identityFile,
      knownHosts: entry.effectiveKnownHosts,
      push: entry.push,
      protect: entry.protect,
      refs: entry.refs,
      ...(entry.only ? { only: entry.only } : {}),
      ...(entry.maxRefsPerPush ? { maxRefsPerPush: entry.maxRefsPerPush } : {}),
      auditLog,
      upstreamTimeoutMs,
    };
    const entryFile = path.join(entriesDir, `${entry.name}.json`);
    writeFileSync(entryFile, JSON.stringify(hookEntry, null, 2) + '\n', { mode: 0o600 });
    mkdirSync(path.join(dir, 'hooks'), { recursive: true });
    refuseSymlink(path.join(dir, 'hooks', 'pre-receive'), 'hook');
    writeFileSync(path.join(dir, 'hooks', 'pre-receive'), `#!/bin/sh\nexec ${shellQuote(process.execPath)} ${shellQuote(hook)} ${shellQuote(entryFile)}\n`, { mode: 0o755 });
    mirrors.set(entry.name, { entry, dir, ...(gitConfigGlobal ? { gitConfigGlobal } : {}) });
  }
  return { reposDir, mirrors };
}

export class UpstreamError extends Error {}

/** Turns git/ssh's stderr into one line a person in the bottle can act on. */
export function explainUpstreamFailure(stderr: string, entry: Pick<GateEntry, 'upstream' | 'effectiveKnownHosts' | 'identityFile'>): string {
  const where = `upstream ${entry.upstream}`;
  if (/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key for .* has changed/i.test(stderr)) {
    return `the host key of ${where} has CHANGED from the one in ${entry.effectiveKnownHosts}; the gate refuses to connect. If the change is expected, verify the new key and update that known_hosts on the host`;
  }
  if (/Host key verification failed|No (ED25519|RSA|ECDSA)? ?host key is known/i.test(stderr)) {
    return `the host key of ${where} is not in ${entry.effectiveKnownHosts}; the gate trusts no unknown host. Verify the key and add it to that known_hosts (or set KnownHosts on the git entry)`;
  }
  if (/Permission denied \(publickey/i.test(stderr)) {
    return `${where} refused the key ${entry.identityFile ?? '(none: the entry has no IdentityFile)'} (Permission denied (publickey)); check the entry's IdentityFile and that the upstream authorizes it`;
  }
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/^(hint:|@+$)/.test(l));
  const useful = lines.filter((l) => /^(fatal|error|ERROR|ssh:)/.test(l) || /refused|denied|not found|does not appear|timed out|Could not/i.test(l));
  return `${where} failed: ${(useful.length ? useful : lines).slice(-3).join(' / ') || 'no message'}`;
}

/**
 * Brings the mirror's branches and tags to the upstream's (pruning what the upstream deleted) and
 * points HEAD at the upstream's default branch. Throws UpstreamError with a readable reason.
 */
export async function refreshMirror(mirror: Mirror, timeoutMs: number): Promise<void> {
  const execa = await loadExeca();
  const { entry, dir } = mirror;
  const env = { ...upstreamGitEnv({ identityFile: entry.identityFile, knownHosts: entry.effectiveKnownHosts }), ...localUpstreamEnv(mirror.gitConfigGlobal) };
  const run = (args: string[]) => execa('git', args, { cwd: dir, env, extendEnv: false, reject: false, timeout: timeoutMs, stdin: 'ignore' });
  const fetched = await run(['fetch', '--quiet', '--prune', '--no-tags', '--no-write-fetch-head', '--end-of-options', entry.upstream, '+refs/heads/*:refs/heads/*', '+refs/tags/*:refs/tags/*']);
  if (fetched.timedOut) throw new UpstreamError(`fetching from upstream ${entry.upstream} took longer than ${Math.round(timeoutMs / 1000)} s`);
  if (fetched.exitCode !== 0) throw new UpstreamError(explainUpstreamFailure(`${fetched.stderr}`, entry));
  const head = await execa('git', ['symbolic-ref', '--quiet', 'HEAD'], { cwd: dir, env: localGitEnv(), extendEnv: false, reject: false });
  const headRef = head.stdout.trim();
  const headOk = headRef !== '' && (await execa('git', ['show-ref', '--verify', '--quiet', headRef], { cwd: dir, env: localGitEnv(), extendEnv: false, reject: false })).exitCode === 0;
  if (headOk) return;
  // Only when HEAD names no branch (a new mirror, or the default branch went away): ask once more.
  const ls = await run(['ls-remote', '--symref', '--end-of-options', entry.upstream, 'HEAD']);
  const target = /^ref: (refs\/heads\/\S+)\tHEAD$/m.exec(ls.stdout)?.[1];
  if (target && (await execa('git', ['check-ref-format', target], { reject: false })).exitCode === 0) {
    await execa('git', ['symbolic-ref', 'HEAD', target], { cwd: dir, env: localGitEnv(), extendEnv: false, reject: false });
  }
}
