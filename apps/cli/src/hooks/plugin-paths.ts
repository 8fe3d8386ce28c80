/**
 * `bottle plugins install ./x.tgz` (or `/abs/dir`): @oclif/plugin-plugins reads any argument with a
 * slash as a GitHub "owner/repo" and only a `file:` spec as a local package. A path the user typed
 * is meant as a local package, so it becomes `file:<absolute path>` before the installer sees it;
 * a path that does not exist is refused here rather than sent to GitHub.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { Errors, type Hook } from '@oclif/core';
import { BottleError, EXIT_USAGE } from '@bot-bottle/core';
import { formatError } from '../base-command.js';

const INSTALL_IDS = new Set(['plugins:install', 'plugins:add']);

/** Written as a path: absolute, `./`, `../`, `~/`, `.`/`..`, or a packed tarball's name. */
export function looksLikePath(arg: string): boolean {
  if (arg.startsWith('-')) return false;
  if (arg === '.' || arg === '..' || arg === '~') return true;
  if (/^(\/|\.\.?\/|~\/)/.test(arg)) return true;
  // A tarball by name (`x-0.1.0.tgz`); anything with a scheme (`file:`, `https:`, `git+ssh:`) is left alone.
  return !arg.includes(':') && /\.(tgz|tar\.gz)$/.test(arg);
}

export function toFileSpec(arg: string, cwd: string, home: string): string {
  const expanded = arg === '~' ? home : arg.startsWith('~/') ? path.join(home, arg.slice(2)) : arg;
  return `file:${path.resolve(cwd, expanded)}`;
}

const hook: Hook<'preparse'> = async function ({ argv, options }) {
  const id = (options.context as { id?: string } | undefined)?.id;
  if (!id || !INSTALL_IDS.has(id)) return argv;
  return argv.map((arg) => {
    if (!looksLikePath(arg)) return arg;
    const spec = toFileSpec(arg, process.cwd(), homedir());
    const file = spec.slice('file:'.length);
    if (!existsSync(file)) {
      const error = new BottleError('USAGE', `no such file or folder: ${file}`, {
        suggestions: [`Give the path of a packed plugin (npm pack) or of its folder, e.g. \`bottle plugins install file:/path/to/plugin-0.1.0.tgz\`; an npm package is installed by name.`],
        exit: EXIT_USAGE,
      });
      process.stderr.write(formatError(error));
      throw new Errors.ExitError(EXIT_USAGE);
    }
    return spec;
  });
};

export default hook;
