/**
 * Runs in a child process of the backend checks (jobs.ts starts it): makes the backend under test
 * from its module, then runs one `bottle run` (core's runSession, as the CLI does) or one
 * `bottle exec`, attached to this process's stdio, and exits with the command's exit code. It
 * reports progress over IPC when it has a channel (not under a terminal), and nothing on stdout.
 */
import { testAgentDouble } from '../agent.js';
import { readFile } from 'node:fs/promises';
import type { Backend, LaunchedBottle } from '../../backend.js';
import { isBottleError } from '../../errors.js';
import type { BottlePlan } from '../../plan.js';
import { runSession } from '../../session.js';
import { JOB_ENV, type ChildEvent, type Job } from './jobs.js';
import { readyStep } from './stand-in.js';
import { loadUnderTest } from './under-test.js';

function send(e: ChildEvent): Promise<void> {
  if (!process.send) return Promise.resolve();
  return new Promise((resolve) => process.send!(e, undefined, {}, () => resolve()));
}

async function main(): Promise<number> {
  const job = JSON.parse(process.env[JOB_ENV] ?? 'null') as Job | null;
  if (!job) throw new Error(`${JOB_ENV} is not set: this file is started by the backend checks`);
  const under = await loadUnderTest(job.module);
  const backend = await under.make(process.env);
  if (job.kind === 'exec') return backend.exec(job.slug, job.argv, { tty: job.tty });

  const plan = JSON.parse(await readFile(job.planFile, 'utf8')) as BottlePlan;
  const interrupt = new AbortController();
  let readySeen = false;
  const progress = (phase: string, detail?: string) => {
    void send({ t: 'phase', phase, ...(detail === undefined ? {} : { detail }) });
    if (phase === 'ready') readySeen = true;
    if (phase === job.abortAt && !interrupt.signal.aborted) {
      void send({ t: 'aborted', phase, readySeen });
      interrupt.abort(new Error(`interrupted at "${phase}" by the checks`));
    }
  };
  // The launched bottle as runSession gets it, reported so that the parent knows its slug and endpoints.
  const reporting: Backend = {
    name: backend.name,
    doctor: () => backend.doctor(),
    launch: async (p, o) => {
      const b: LaunchedBottle = await backend.launch(p, o);
      await send({ t: 'launched', slug: b.slug, endpoints: b.endpoints });
      return b;
    },
    list: () => backend.list(),
    exec: (slug, argv, o) => backend.exec(slug, argv, o),
    stop: (slug) => backend.stop(slug),
    gc: (o) => backend.gc(o),
  };
  return runSession({
    plan,
    backend: reporting,
    steps: [readyStep],
    // The checks always give the command; the agent definition is a double that is never started.
    agent: testAgentDouble(),
    argv: job.argv,
    tty: job.tty,
    keep: job.keep,
    progress,
    warn: (m) => process.stderr.write(`checks child: warning: ${m}\n`),
    signal: interrupt.signal,
    // As `bottle run` reports it: the bottle is up and provisioned, the command starts next.
    onReady: (slug) => progress('ready', slug),
  });
}

main().then(
  async (code) => {
    await send({ t: 'done', code });
    process.exit(code);
  },
  async (e: unknown) => {
    const be = isBottleError(e) ? e : null;
    const message = e instanceof Error ? e.message : String(e);
    await send({ t: 'error', code: be?.code ?? 'NOT_A_BOTTLE_ERROR', exit: be?.exit ?? 1, message });
    process.stderr.write(`checks child: ${be?.code ?? 'error'}: ${message}\n${process.env.BOTTLE_DEBUG && e instanceof Error ? `${e.stack}\n` : ''}`);
    process.exit(be?.exit ?? 1);
  },
);
