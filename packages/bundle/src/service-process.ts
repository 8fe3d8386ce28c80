/** The supervisor's side of a service process (see service-io.ts for the other side). */
import { spawn } from 'node:child_process';
import { ServiceError } from '@bot-bottle/core/service';
import { AUDIT_FD } from './config.js';
import type { ServiceFailure } from './service-io.js';

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

const MAX_MESSAGE = 64 * 1024;

/**
 * A 1 MiB young generation (V8's default grows to 16 MiB per semi-space): under request load the
 * egress gateway's RSS then stays ~75 MiB lower at the same request rate (bench/egress), and an
 * idle service holds less. The gateway's workers inherit it.
 */
const SERVICE_NODE_FLAGS = ['--max-semi-space-size=1'];

function parseMessage(line: string): { ready?: unknown; error?: unknown } | null {
  try {
    const parsed: unknown = JSON.parse(line);
    return parsed && typeof parsed === 'object' ? (parsed as { ready?: unknown; error?: unknown }) : null;
  } catch {
    return null;
  }
}

export function startService(spec: ServiceSpec): RunningService {
  const stdio: ('pipe' | 'inherit' | 'ignore' | number)[] = ['pipe', 'pipe', 'inherit'];
  for (let fd = 3; fd < AUDIT_FD; fd++) stdio.push('ignore');
  stdio.push(spec.auditFd);
  const child = spawn(process.execPath, [...SERVICE_NODE_FLAGS, spec.script], {
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
    const out = child.stdout!.setEncoding('utf8');
    const onData = (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl < 0 && buf.length <= MAX_MESSAGE) return;
      // One line is all a service has to say; whatever follows is drained unread, so a service
      // gone bad cannot make this root process hold its output.
      out.off('data', onData);
      out.resume();
      if (nl < 0) {
        reject(new ServiceError(`the ${spec.name} sent more than ${MAX_MESSAGE} bytes without ending its ready line`));
        child.kill('SIGKILL');
        return;
      }
      const line = buf.slice(0, nl);
      const msg = parseMessage(line);
      const error = msg?.error && typeof msg.error === 'object' ? (msg.error as Partial<ServiceFailure>) : null;
      if (msg?.ready && typeof msg.ready === 'object') resolve(msg.ready as Record<string, unknown>);
      else if (error && typeof error.message === 'string') {
        const strings = (x: unknown) => (Array.isArray(x) ? x.filter((i): i is string => typeof i === 'string') : []);
        reject(new ServiceError(error.message, { kind: error.kind === 'config' ? 'config' : 'failure', details: strings(error.details), suggestions: strings(error.suggestions) }));
      } else reject(new ServiceError(`the ${spec.name} sent something other than its ready line: ${line.slice(0, 200)}`));
    };
    out.on('data', onData);
    void exited.then((how) => reject(new ServiceError(`the ${spec.name} ${how} while starting`)));
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
