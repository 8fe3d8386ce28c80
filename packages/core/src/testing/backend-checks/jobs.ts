/**
 * The backend checks' child processes. A bottle attaches to *its process's* terminal, and a
 * bottle's owner is a process that can be killed, so those cases run the launch in a child: this
 * module starts one (node with the parent's loader flags, or under util-linux `script` for a real
 * terminal) and follows what it reports over IPC; child.ts is what runs in it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { AgentEndpoints } from '../../backend.js';

/** What a child is asked to do; passed in its environment as JSON. */
export type Job =
  | {
      kind: 'session';
      /** The module whose default export is the BackendUnderTest. */
      module: string;
      /** A plan written by the parent (JSON). */
      planFile: string;
      argv: string[];
      tty: boolean;
      keep: boolean;
      /** Abort the session's signal the first time this progress phase is reported. */
      abortAt?: string;
    }
  | { kind: 'exec'; module: string; slug: string; argv: string[]; tty: boolean };

export type ChildEvent =
  | { t: 'phase'; phase: string; detail?: string }
  | { t: 'launched'; slug: string; endpoints: AgentEndpoints }
  | { t: 'aborted'; phase: string; readySeen: boolean }
  | { t: 'done'; code: number }
  | { t: 'error'; code: string; exit: number; message: string };

export const JOB_ENV = 'BOT_BOTTLE_CHECKS_JOB';

/** The child's entry: the built file beside this one, or its source when running from source (tsx). */
function childEntry(): string {
  const built = fileURLToPath(new URL('./child.js', import.meta.url));
  return existsSync(built) ? built : fileURLToPath(new URL('./child.ts', import.meta.url));
}

export interface Child {
  pid: number;
  events: ChildEvent[];
  /** Resolves with the first event (already seen or to come) that `match` accepts; rejects when the child exits first. */
  until(match: (e: ChildEvent) => boolean, what: string): Promise<ChildEvent>;
  /** Resolves when it has exited (and been reaped). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stdout(): string;
  stderr(): string;
  /** Types into its terminal (or writes to its stdin). */
  write(text: string): void;
  kill(signal: NodeJS.Signals): void;
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export interface ChildOptions {
  env: NodeJS.ProcessEnv;
  /** Its stdin: closed (/dev/null), these bytes then end of file, or left open for write() (default closed). */
  stdin?: 'ignore' | 'open' | string | Uint8Array;
  /** Run it on a real pseudo-terminal (util-linux `script`): its stdin, stdout and stderr are one terminal. */
  terminal?: boolean;
}

/** Starts a child running `job`, in its own process group (so that its engine processes can be told apart). */
export function startChild(job: Job, o: ChildOptions): Child {
  const env = { ...o.env, [JOB_ENV]: JSON.stringify(job) };
  const node = [process.execPath, ...process.execArgv, childEntry()];
  let child: ChildProcess;
  if (o.terminal) {
    child = spawn('script', ['-qfec', node.map(quote).join(' '), '/dev/null'], { env: { ...env, TERM: o.env.TERM || 'xterm' }, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  } else {
    const stdin = o.stdin === undefined || o.stdin === 'ignore' ? 'ignore' : 'pipe';
    child = spawn(node[0]!, node.slice(1), { env, stdio: [stdin, 'pipe', 'pipe', 'ipc'], detached: true });
    if (typeof o.stdin === 'string' || o.stdin instanceof Uint8Array) child.stdin!.end(o.stdin);
  }
  const events: ChildEvent[] = [];
  const waiters: { match: (e: ChildEvent) => boolean; resolve: (e: ChildEvent) => void }[] = [];
  let out = '';
  let err = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString('utf8')));
  child.stderr!.on('data', (b: Buffer) => (err += b.toString('utf8')));
  child.on('message', (m: ChildEvent) => {
    events.push(m);
    for (const w of waiters.splice(0)) {
      if (w.match(m)) w.resolve(m);
      else waiters.push(w);
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  exited.catch(() => undefined);
  if (child.pid === undefined) throw new Error(`could not start the checks' child (${o.terminal ? 'script from util-linux' : process.execPath})`);
  return {
    pid: child.pid,
    events,
    until(match, what) {
      const seen = events.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        waiters.push({ match, resolve });
        exited.then(
          ({ code, signal }) => {
            const hit = events.find(match);
            if (hit) resolve(hit);
            else reject(new Error(`the child exited (${signal ?? `code ${code}`}) before ${what}; it reported ${JSON.stringify(events)}\nstderr: ${err.slice(-3000)}`));
          },
          reject,
        );
      });
    },
    exited,
    stdout: () => out,
    stderr: () => err,
    write: (text) => void child.stdin!.write(text),
    kill: (signal) => void child.kill(signal),
  };
}

/** True while any process of the group `pgid` is alive (the child's engine processes outlive it). */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}
