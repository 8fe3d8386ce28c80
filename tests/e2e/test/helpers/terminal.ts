/**
 * A `bottle` command on a real pseudo-terminal, for the suites that drive an agent's terminal UI.
 * What it draws is also fed to a headless xterm.js (a real terminal emulator): a UI that moves the
 * cursor around is read as a person sees it, and the emulator answers the UI's queries (cursor
 * position, device attributes) as a terminal does.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import path from 'node:path';
import xterm from '@xterm/headless';

const CLI = path.resolve(import.meta.dirname, '../../../../apps/cli/bin/run.js');

/** Text as a terminal UI draws it, matched with any run of spaces (it may move the cursor instead). */
export function onScreen(text: string): RegExp {
  return new RegExp(text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/ /g, '\\s*'));
}

/** A `bottle` command on a real pseudo-terminal (util-linux `script`): what is written is typed, the output and the screen are read. */
export class Terminal {
  readonly child: ChildProcessWithoutNullStreams;
  screen = '';
  readonly term: InstanceType<typeof xterm.Terminal>;
  readonly exited: Promise<number | null>;
  constructor(env: NodeJS.ProcessEnv, args: string[]) {
    const cmd = [process.execPath, CLI, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    this.child = spawn('script', ['-qfec', `stty cols 160 rows 50; exec ${cmd}`, '/dev/null'], { env: { ...env, TERM: 'xterm-256color' }, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    this.term = new xterm.Terminal({ cols: 160, rows: 50, scrollback: 5000, allowProposedApi: true });
    // The emulator's answers to the UI's queries go back as typed input, as a terminal's do.
    this.term.onData((answer) => this.child.stdin.writable && this.child.stdin.write(answer));
    this.child.stdout.on('data', (d: Buffer) => {
      this.screen += d.toString('utf8');
      this.term.write(d);
    });
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
  }
  plain(): string {
    return this.screen.replace(/\x1b\[[0-9;?<>=]*[A-Za-z~]/g, '').replace(/\x1b[\]P][^\x07\x1b]*(\x07|\x1b\\)/g, '');
  }
  /** The emulator's screen and scrollback, as text lines. */
  drawn(): string {
    const b = this.term.buffer.active;
    const lines: string[] = [];
    for (let i = 0; i < b.length; i++) lines.push(b.getLine(i)?.translateToString(true) ?? '');
    return lines.join('\n');
  }
  /** Waits until the output so far, or the screen as drawn, matches. */
  async waitFor(re: RegExp, what: string, seconds = 120): Promise<RegExpExecArray> {
    for (let i = 0; i < seconds * 10; i++) {
      const m = re.exec(this.plain()) ?? re.exec(this.drawn());
      if (m) return m;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`the terminal never showed ${what}:\n${this.drawn().replace(/\n\s*\n/g, '\n').slice(-4000)}`);
  }
  /** Types text as a person does: a key at a time. */
  async type(text: string): Promise<void> {
    for (const ch of text) {
      this.child.stdin.write(ch);
      await new Promise((r) => setTimeout(r, 30));
    }
  }
  kill(): void {
    try {
      process.kill(-this.child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
