/**
 * Every bottle command extends this: it formats any error once (message, detail lines, fixes), keeps
 * stack traces behind BOTTLE_DEBUG=1, and under --json prints exactly one JSON document, on error too.
 */
import { Command, Errors, type Interfaces } from '@oclif/core';
import { BottleError, EXIT_FAILURE, EXIT_USAGE, bottleErrorFrom, isBottleError, isServiceError } from '@bot-bottle/core';
import { jsonText, visible } from './display/visible.js';

export type CommandFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof BaseCommand)['baseFlags'] & T['flags']>;
export type CommandArgs<T extends typeof Command> = Interfaces.InferredArgs<T['args']>;

export function debugEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env.BOTTLE_DEBUG;
  return v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false';
}

/** oclif's flag and argument parser throws these; they are the user's input being wrong. */
function isParseError(e: unknown): e is Errors.CLIError & { parse: unknown } {
  return e instanceof Errors.CLIError && 'parse' in e;
}

/** A failed file or directory operation on this machine: it names its path, so it is rarely a bug. */
function isFileSystemError(e: unknown): e is NodeJS.ErrnoException & { code: string; syscall: string; path: string } {
  const x = e as NodeJS.ErrnoException;
  return e instanceof Error && typeof x.code === 'string' && typeof x.syscall === 'string' && typeof x.path === 'string';
}

function fileSystemFix(code: string, file: string): string {
  if (code === 'EACCES' || code === 'EPERM') return `Check that you may read and write ${file} (bot-bottle keeps its state under $XDG_STATE_HOME/bot-bottle, default ~/.local/state/bot-bottle).`;
  if (code === 'ENOSPC' || code === 'EDQUOT') return `Free some disk space where ${file} is, then try again.`;
  if (code === 'EROFS') return `${file} is on a read-only file system; point XDG_STATE_HOME at a writable folder.`;
  if (code === 'ENOTDIR' || code === 'EEXIST' || code === 'EISDIR') return `Something else is in the way at ${file} or one of its parents; move it aside.`;
  return `Check ${file}; if it is one of bot-bottle's own files, re-run with BOTTLE_DEBUG=1 and report the output.`;
}

/**
 * Any error as a BottleError: ours as they are, a bundle service's (raised by its code run in this
 * process) with its message and fixes, oclif's usage errors as USAGE (exit 2), a failed file
 * operation as HOST_IO_FAILED naming its path, the rest as INTERNAL.
 */
export function toBottleError(e: unknown, commandId: string | undefined, bin: string): BottleError {
  if (isBottleError(e)) return e;
  if (isServiceError(e)) return bottleErrorFrom(e, 'BACKEND_FAILED');
  const help = `Run \`${[bin, ...(commandId ? commandId.split(':') : [])].join(' ')} --help\` for usage.`;
  if (isParseError(e)) {
    // oclif ends its parse messages with its own "See more help with --help" line; ours says it once.
    const lines = e.message.split('\n').map((l) => l.trim()).filter((l) => l && !/^See more help with/i.test(l));
    return new BottleError('USAGE', lines[0] ?? 'invalid arguments', { details: lines.slice(1), suggestions: [help], exit: EXIT_USAGE, cause: e });
  }
  if (e instanceof Errors.CLIError) {
    const exit = e.oclif?.exit ?? EXIT_FAILURE;
    return new BottleError(exit === EXIT_USAGE ? 'USAGE' : 'INTERNAL', e.message, { suggestions: e.suggestions ?? [help], exit, cause: e });
  }
  if (isFileSystemError(e)) {
    return new BottleError('HOST_IO_FAILED', `cannot ${e.syscall} ${e.path} (${e.code})`, { suggestions: [fileSystemFix(e.code, e.path)], exit: EXIT_FAILURE, cause: e });
  }
  const message = e instanceof Error ? e.message : String(e);
  return new BottleError('INTERNAL', message || 'unexpected error', {
    suggestions: ['This is a bug in bot-bottle; re-run with BOTTLE_DEBUG=1 and report the output.'],
    exit: EXIT_FAILURE,
    cause: e,
  });
}

/**
 * The human form: `Error: message`, indented details, then one `Fix:` line per suggestion. A
 * message can carry text from elsewhere (a request file's host, a docker error): each line is
 * shown with its invisible characters escaped.
 */
export function formatError(e: BottleError): string {
  const lines = [...e.message.split('\n').map((l, i) => (i === 0 ? `Error: ${visible(l)}` : `  ${visible(l)}`))];
  for (const d of e.details) lines.push(...d.split('\n').map((l) => `  ${visible(l)}`));
  for (const s of e.suggestions) lines.push(`Fix: ${visible(s)}`);
  return `${lines.join('\n')}\n`;
}

function stacks(e: unknown): string {
  const out: string[] = [];
  for (let cur: unknown = e, depth = 0; cur instanceof Error && depth < 5; cur = cur.cause, depth++) {
    out.push(depth === 0 ? (cur.stack ?? String(cur)) : `Caused by: ${cur.stack ?? String(cur)}`);
  }
  return `${out.join('\n')}\n`;
}

export abstract class BaseCommand extends Command {
  static override enableJsonFlag = true;

  /** Data goes to stdout; this writes a line of it (nothing under --json). */
  protected out(text = ''): void {
    if (!this.jsonEnabled()) process.stdout.write(`${text}\n`);
  }

  /** Logs and progress go to stderr, also under --json (stdout then holds the document only). */
  protected note(text: string): void {
    process.stderr.write(`${text}\n`);
  }

  /**
   * Plain JSON: one document, no colour codes, so `bottle x --json | jq` always parses; characters
   * JSON.stringify leaves raw though they are not visible (U+2028, bidi marks...) as \u escapes.
   */
  override logJson(json: unknown): void {
    process.stdout.write(`${jsonText(json, 2)}\n`);
  }

  protected override async catch(err: Error & { exitCode?: number }): Promise<never> {
    // this.exit(n) throws ExitError: a deliberate exit, not an error to report.
    if (err instanceof Errors.ExitError) throw err;
    const error = toBottleError(err, this.id, this.config.bin);
    if (this.jsonEnabled()) this.logJson({ error: error.toJSON() });
    else process.stderr.write(formatError(error));
    if (debugEnabled()) process.stderr.write(stacks(err));
    // oclif would set exit 1 under --json and print its own message otherwise; ExitError does neither.
    throw new Errors.ExitError(error.exit);
  }
}
