/**
 * The contracts between the CLI, the backends that make sandboxes, and the provisioners that
 * prepare them. A provisioner only ever sees a Target, so it never knows which backend it runs on.
 */
import type { BottlePlan } from './plan.js';

export interface ExecOptions {
  /** Extra environment for this command only. */
  env?: Readonly<Record<string, string>>;
  /**
   * Run as this guest user (with HOME and USER set for it). Backends without a native user switch
   * (smolvm) express it as a `runuser -u USER --` prefix.
   */
  user?: string;
  /** Bytes or text fed to the command's stdin; stdin is closed otherwise. */
  stdin?: string | Uint8Array;
  /** Working directory inside the guest. */
  cwd?: string;
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** One sandbox, as a provisioner sees it. */
export interface Target {
  /** A short human description ("docker container bottle-demo-abc12"). */
  readonly description: string;
  exec(argv: readonly string[], options?: ExecOptions): Promise<ExecResult>;
  /**
   * Copies a host file or directory to guestPath. A directory lands as guestPath itself (not inside
   * it), with its whole tree; the copy is owned by root until a provisioner chowns it.
   */
  copyIn(hostPath: string, guestPath: string): Promise<void>;
}

/** Where the agent reaches its bundle's services, as seen from inside the bottle. */
export interface AgentEndpoints {
  /** http://HOST:PORT of the egress gateway (the bottle's HTTP(S)_PROXY). */
  proxyUrl: string;
  /** HOST:PORT of git-gate (`git://HOST:PORT/<Name>.git`). */
  gitGateHost: string;
  /** URL of the supervise MCP server. */
  superviseUrl: string;
}

export type BottleState = 'starting' | 'running' | 'stopped' | 'exited' | 'orphaned' | 'unknown';

export interface BottleStatus {
  slug: string;
  agent: string;
  backend: string;
  state: BottleState;
  /** ISO time the bottle was created. */
  createdAt: string;
  /** Human detail (container states, owner pid). */
  detail?: string;
}

export interface GcReport {
  /** One line per thing removed (or that would be, with dryRun). */
  removed: string[];
  kept: string[];
}

export interface LaunchProgress {
  (phase: string, detail?: string): void;
}

/** A running bottle as the launcher holds it. */
export interface LaunchedBottle {
  slug: string;
  target: Target;
  endpoints: AgentEndpoints;
  /**
   * Resolves when the bundle serves; rejects if it fails to start. A backend may return from launch
   * before this (the bottle holds early connections until then): provisioning overlaps the bundle's
   * start, and attach fails with this error if the bundle never comes up.
   */
  ready: Promise<void>;
  /** Runs argv in the bottle as the agent user, attached to this process's stdio; returns its exit code. */
  attach(argv: readonly string[], options: { tty: boolean; env?: Readonly<Record<string, string>> }): Promise<number>;
  /** Removes everything this launch created. Safe to call twice. */
  destroy(): Promise<void>;
}

export interface DoctorCheck {
  name: string;
  ok: boolean;
  detail: string;
  /** The exact fix when not ok. */
  fix?: string;
}

export interface Backend {
  readonly name: string;
  doctor(): Promise<DoctorCheck[]>;
  /** Starts the bundle and the bottle. With keep, the bottle outlives this process (`bottle stop` removes it). */
  launch(plan: BottlePlan, options: { progress: LaunchProgress; signal?: AbortSignal; keep?: boolean }): Promise<LaunchedBottle>;
  list(): Promise<BottleStatus[]>;
  exec(slug: string, argv: readonly string[], options: { tty: boolean }): Promise<number>;
  stop(slug: string): Promise<void>;
  gc(options: { dryRun: boolean }): Promise<GcReport>;
  /**
   * A byte stream to `port` on the running bottle's loopback, carried over a channel the host opens
   * (as exec's stdio is): the bottle gets no network interface and opens no connection out. Ends
   * when either side closes. A backend without it cannot forward ports (`bottle port` says so).
   */
  connect?(slug: string, port: number): Promise<import('node:stream').Duplex>;
}
