/**
 * An in-memory Target that records every call and answers from a script. It exists to unit-test
 * provisioners and the runner (their call shapes), never to stand in for a backend.
 */
import { readFile, stat } from 'node:fs/promises';
import type { ExecOptions, ExecResult, Target } from '../backend.js';

export type RecordedCall =
  | { kind: 'exec'; argv: string[]; options: ExecOptions }
  | { kind: 'copyIn'; hostPath: string; guestPath: string; isDirectory: boolean; content?: string };

export class RecordingTarget implements Target {
  readonly description = 'recording target';
  readonly calls: RecordedCall[] = [];
  /** Answer for an exec; default exit 0 with empty output. */
  respond: (argv: readonly string[], options: ExecOptions) => ExecResult | Promise<ExecResult> = () => ({ exitCode: 0, stdout: '', stderr: '' });

  async exec(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    this.calls.push({ kind: 'exec', argv: [...argv], options });
    return this.respond(argv, options);
  }

  async copyIn(hostPath: string, guestPath: string): Promise<void> {
    const st = await stat(hostPath);
    // Small files are read at copy time, as a stage file may be removed after the launch.
    const content = st.isFile() && st.size < 65536 ? await readFile(hostPath, 'utf8') : undefined;
    this.calls.push({ kind: 'copyIn', hostPath, guestPath, isDirectory: st.isDirectory(), ...(content === undefined ? {} : { content }) });
  }

  get execs(): Extract<RecordedCall, { kind: 'exec' }>[] {
    return this.calls.filter((c): c is Extract<RecordedCall, { kind: 'exec' }> => c.kind === 'exec');
  }

  get copies(): Extract<RecordedCall, { kind: 'copyIn' }>[] {
    return this.calls.filter((c): c is Extract<RecordedCall, { kind: 'copyIn' }> => c.kind === 'copyIn');
  }
}
