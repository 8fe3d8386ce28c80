/** The supervisor's side of a service process (see service-io.ts for the other side). */
import { spawn } from 'node:child_process';
import { BottleError, type BottleErrorCode } from '@bot-bottle/core';
import { AUDIT_FD } from './config.js';
import type { ServiceMessage } from './service-io.js';

export interface ServiceSpec {
  /** For messages: "egress gateway", "git-gate". */
  name: string;
  /** The service's script (run with this Node). */
  script: string;
  /** Sent on its stdin. */
  input: unknown;
  /** Its whole environment. */
  env: Record<string, string>;
  /** Start it as this user; absent: as root (it then drops by itself). */
  user?: { uid: number; gid: number };
  /** Handed to it as descriptor AUDIT_FD. */
  auditFd: number;
}

export interface RunningService {
  name: string;
  pid: number | undefined;
  /** The service's ready message; rejects with its error when it fails to start. */
  ready: Promise<Record<string, unknown>>;
  /** Settles (with how) when the process ends, whenever that is. */
  exited: Promise<string>;
  /** SIGTERM, then SIGKILL if it has not ended after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

export function startService(spec: ServiceSpec): RunningService {
  const stdio: ('pipe' | 'inherit' | 'ignore' | number)[] = ['pipe', 'pipe', 'inherit'];
  for (let fd = 3; fd < AUDIT_FD; fd++) stdio.push('ignore');
  stdio.push(spec.auditFd);
  const child = spawn(process.execPath, [spec.script], {
    stdio,
    env: spec.env,
    cwd: '/',
    ...(spec.user ? { uid: spec.user.uid, gid: spec.user.gid } : {}),
  });
  let done = false;
  const exited = new Promise<string>((resolve) => {
    child.once('exit', (code, signal) => {
      done = true;
      resolve(signal ? `was killed by ${signal}` : `exited with code ${code}`);
    });
    child.once('error', (e) => {
      done = true;
      resolve(`could not be started (${e.message})`);
    });
  });
  const ready = new Promise<Record<string, unknown>>((resolve, reject) => {
    let buf = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      let msg: ServiceMessage;
      try {
        msg = JSON.parse(buf.slice(0, nl)) as ServiceMessage;
      } catch {
        reject(new BottleError('INTERNAL', `the ${spec.name} sent something other than its ready line: ${buf.slice(0, 200)}`));
        return;
      }
      if ('ready' in msg) resolve(msg.ready);
      else reject(new BottleError(msg.error.code as BottleErrorCode, msg.error.message, { details: msg.error.details, suggestions: msg.error.suggestions }));
    });
    void exited.then((how) => reject(new BottleError('BACKEND_FAILED', `the ${spec.name} ${how} while starting`)));
  });
  ready.catch(() => undefined); // observed by the supervisor
  child.stdin!.on('error', () => undefined);
  child.stdin!.end(JSON.stringify(spec.input));
  return {
    name: spec.name,
    pid: child.pid,
    ready,
    exited,
    async stop(graceMs = 10_000) {
      if (done) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
