/** A running bottle container as a provisioner's Target: `docker exec` and `docker cp`. */
import type { ExecOptions, ExecResult, Target } from '@bot-bottle/core';
import { docker } from './docker-cli.js';

export class DockerTarget implements Target {
  readonly description: string;

  constructor(readonly container: string) {
    this.description = `docker container ${container}`;
  }

  async exec(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    const args = ['exec'];
    if (options.stdin !== undefined) args.push('-i');
    if (options.user) args.push('-u', options.user);
    if (options.cwd) args.push('-w', options.cwd);
    for (const [k, v] of Object.entries(options.env ?? {})) args.push('-e', `${k}=${v}`);
    args.push(this.container, ...argv);
    const r = await docker(args, {
      ...(options.stdin !== undefined ? { input: options.stdin } : {}),
      ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr };
  }

  async copyIn(hostPath: string, guestPath: string): Promise<void> {
    // One `docker cp` copies a whole tree: the cost does not grow with the number of files.
    const r = await docker(['cp', hostPath, `${this.container}:${guestPath}`]);
    if (r.exitCode !== 0) throw new Error(`copying ${hostPath} to ${guestPath} failed: ${r.stderr.trim()}`);
  }
}
