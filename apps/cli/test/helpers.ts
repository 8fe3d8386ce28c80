/**
 * Shared set-up for the CLI tests: a fresh build of the CLI and the example plugin when their sources
 * changed, temp dirs (removed at the end), isolated oclif data/config/cache dirs, and two ways to run
 * `bottle`: in-process with @oclif/test's runCommand, and as a real process (bin/run.js) with execa.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Errors } from '@oclif/core';
import { runCommand } from '@oclif/test';
import { execa } from 'execa';
import { cleanupTempDirs, tempDir } from '@bot-bottle/core/testing';

export const CLI_ROOT = path.resolve(import.meta.dirname, '..');
export const REPO_ROOT = path.resolve(CLI_ROOT, '../..');
export const EXAMPLE_PLUGIN = path.join(REPO_ROOT, 'examples/provisioner-example');
export const FIXTURES = path.join(CLI_ROOT, 'test/fixtures');
export const BIN = path.join(CLI_ROOT, 'bin/run.js');

async function newest(dir: string): Promise<number> {
  let max = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) max = Math.max(max, (await stat(path.join(entry.parentPath, entry.name))).mtimeMs);
  }
  return max;
}

/** The commands run from dist/ (as users get them); rebuild it when a source is newer. */
async function buildIfStale(pkgDir: string): Promise<void> {
  const dist = path.join(pkgDir, 'dist');
  const built = await newest(dist).catch(() => 0);
  if (built >= (await newest(path.join(pkgDir, 'src')))) return;
  const tsc = path.join(REPO_ROOT, 'node_modules/typescript/bin/tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: pkgDir, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`build of ${pkgDir} failed:\n${r.stdout}${r.stderr}`);
  // The oclif manifest describes the commands' flags; a stale one would hide a change.
  const manifestScript = path.join(pkgDir, 'scripts/manifest.mjs');
  if (existsSync(manifestScript)) {
    const m = spawnSync(process.execPath, [manifestScript], { cwd: pkgDir, encoding: 'utf8' });
    if (m.status !== 0) throw new Error(`oclif manifest of ${pkgDir} failed:\n${m.stdout}${m.stderr}`);
  }
}

await buildIfStale(CLI_ROOT);
await buildIfStale(EXAMPLE_PLUGIN);

// Temp dirs made here are removed by cleanupTempDirs, as in every package's tests.
export { cleanupTempDirs, tempDir };

/** oclif's user data (linked plugins), config and cache dirs, all in a temp dir; never the real ones. */
export async function isolatedXdg(): Promise<Record<string, string>> {
  const root = await tempDir('bottle-cli-xdg-');
  return {
    XDG_DATA_HOME: path.join(root, 'data'),
    XDG_CONFIG_HOME: path.join(root, 'config'),
    XDG_CACHE_HOME: path.join(root, 'cache'),
    XDG_STATE_HOME: path.join(root, 'state'),
  };
}

export async function writeJson(file: string, value: unknown): Promise<string> {
  await writeFile(file, typeof value === 'string' ? value : JSON.stringify(value, null, 2));
  return file;
}

export interface Outcome {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Env keys that would leak the developer's own setup into a test. */
const SCRUB = ['BOT_BOTTLE_MANIFEST', 'BOTTLE_DEBUG', 'ANTHROPIC_API_KEY', 'NODE_ENV', 'DEBUG'];

/** Runs the real `bottle` (bin/run.js) as a child process. */
export async function bottle(args: string[], options: { env?: Record<string, string | undefined>; cwd?: string } = {}): Promise<Outcome> {
  const env: Record<string, string | undefined> = { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' };
  for (const k of SCRUB) delete env[k];
  const r = await execa(process.execPath, [BIN, ...args], { env: { ...env, ...options.env }, extendEnv: false, cwd: options.cwd ?? CLI_ROOT, reject: false, timeout: 60_000 });
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/**
 * Runs `bottle` in this process with @oclif/test's runCommand. `env` is applied to process.env for
 * the call only (oclif reads XDG dirs and the manifest env var from there); `cwd` likewise.
 */
export async function run(args: string[], options: { env?: Record<string, string | undefined>; cwd?: string } = {}): Promise<Outcome> {
  const saved = new Map<string, string | undefined>();
  const set = (k: string, v: string | undefined) => {
    if (!saved.has(k)) saved.set(k, process.env[k]);
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  };
  for (const k of SCRUB) set(k, undefined);
  for (const [k, v] of Object.entries(options.env ?? {})) set(k, v);
  const cwd = process.cwd();
  if (options.cwd) process.chdir(options.cwd);
  const exitBefore = process.exitCode;
  try {
    const { error, stdout, stderr } = await runCommand(args, { root: CLI_ROOT });
    let exitCode = 0;
    if (error instanceof Errors.ExitError) exitCode = error.oclif.exit ?? 1;
    else if (error) throw error; // BaseCommand turns every error into ExitError; anything else is a bug
    else if (typeof process.exitCode === 'number' && process.exitCode !== 0) exitCode = process.exitCode;
    return { exitCode, stdout, stderr };
  } finally {
    process.exitCode = exitBefore;
    process.chdir(cwd);
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/** A manifest that passes validation, for tests to break one key at a time. */
export function validManifest(): Record<string, any> {
  return {
    bottles: {
      dev: {
        git: [{ Name: 'app', Upstream: 'ssh://git@git.example.invalid/app.git' }],
        git_user: { name: 'Bot', email: 'bot@example.com' },
        egress: { routes: [{ host: 'api.anthropic.com', auth: { header: 'x-api-key', env: 'ANTHROPIC_API_KEY' } }] },
        supervise: true,
      },
    },
    agents: { demo: { bottle: 'dev', prompt: 'You are a test agent.' } },
  };
}

/** Fails when output carries a JavaScript stack trace. */
export function hasStack(text: string): boolean {
  return /^\s+at .+(\(|:\d+)/m.test(text);
}
