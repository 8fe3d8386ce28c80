/**
 * A running bottle container as a provisioner's Target. Commands and copies go through one exec
 * channel (a single `docker exec -i` running the image's exec agent); a container without the
 * agent (an image not built by bot-bottle) gets one `docker exec` / `docker cp` per call instead.
 */
import { spawn } from 'node:child_process';
import type { ExecOptions, ExecResult, Target } from '@bot-bottle/core';
import { DEFAULT_EXEC_AGENT_ARGV, DOCKER, ExecChannel, copyFailed, docker, dockerStats } from '@bot-bottle/backend-kit';

export class DockerTarget implements Target {
  readonly description: string;
  private channel: Promise<ExecChannel | null> | undefined;

  /** `execAgent`: how the container's image starts the exec agent (a layered user image names bot-bottle's own Node). */
  constructor(readonly container: string, private readonly useChannel = true, private readonly execAgent: readonly string[] = DEFAULT_EXEC_AGENT_ARGV) {
    this.description = `docker container ${container}`;
  }

  private open(): Promise<ExecChannel | null> {
    if (!this.useChannel) return Promise.resolve(null);
    this.channel ??= ExecChannel.open((argv) => {
      dockerStats.spawned++;
      return spawn(DOCKER, ['exec', '-i', '-u', 'root', this.container, ...argv], { stdio: ['pipe', 'pipe', 'pipe'] });
    }, this.description, undefined, this.execAgent).catch(() => null);
    return this.channel;
  }

  async exec(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    const channel = await this.open();
    if (channel) return channel.exec(argv, options);
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
    const channel = await this.open();
    if (channel) return channel.copyIn(hostPath, guestPath);
    // One `docker cp` copies a whole tree: the cost does not grow with the number of files.
    const r = await docker(['cp', hostPath, `${this.container}:${guestPath}`]);
    if (r.exitCode !== 0) {
      // docker cp names a missing source as `lstat <host path>: ...`; anything else failed in the container.
      const hostSide = /\blstat\b|no such file or directory/i.test(r.stderr) && r.stderr.includes(hostPath);
      throw copyFailed(this.description, hostPath, guestPath, hostSide ? 'host' : 'guest', r.stderr);
    }
  }

  /** Ends the exec channel (the agent exits); later calls open a new one. */
  async close(): Promise<void> {
    const channel = await this.channel;
    this.channel = undefined;
    channel?.close();
  }
}
