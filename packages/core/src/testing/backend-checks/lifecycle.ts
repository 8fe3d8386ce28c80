/**
 * A bottle's life through the Backend contract, the way `bottle run|ls|exec|stop|gc` drive it: each
 * launch runs core's runSession in a child process (the command attaches to that process's stdio,
 * and that process is the bottle's owner), and the checks read the outcome from Backend.list, gc,
 * the state dir and the engine.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { EXIT_INTERRUPTED, EXIT_USAGE } from '../../errors.js';
import { rejects } from '../rejects.js';
import { startChild, type Child, type ChildEvent, type ChildOptions, type Job } from './jobs.js';
import { PROVISIONED_MARK } from './stand-in.js';
import { AGENT, gcUntilClean, leftovers, minimalPlan, planFile, type World } from './world.js';
import type { BackendCheck } from './index.js';

interface SessionRun {
  child: Child;
  slug: string;
  planDir: string;
}

/** Starts `bottle run` of a fresh minimal plan in a child. */
async function session(w: World, argv: string[], o: Omit<Partial<Extract<Job, { kind: 'session' }>>, 'kind' | 'module' | 'planFile'> & Omit<ChildOptions, 'env'> = {}): Promise<SessionRun> {
  const plan = await minimalPlan(w);
  const job: Job = { kind: 'session', module: String(w.under.module), planFile: await planFile(w, plan), argv, tty: o.tty ?? false, keep: o.keep ?? false, ...(o.abortAt ? { abortAt: o.abortAt } : {}) };
  const child = startChild(job, { env: w.env, ...(o.stdin === undefined ? {} : { stdin: o.stdin }), ...(o.terminal ? { terminal: true } : {}) });
  return { child, slug: plan.slug, planDir: plan.stateDir };
}

async function exitOf(child: Child): Promise<number | null> {
  return (await child.exited).code;
}

const phaseEvents = (events: ChildEvent[]) => events.flatMap((e) => (e.t === 'phase' ? [e.phase] : []));

/** Nothing of the bottle is left, by every account (ls, state dir, engine). */
async function nothingLeft(w: World, slug: string, what: string): Promise<void> {
  assert.deepEqual(await leftovers(w, slug), [], `${what}: nothing is left of ${slug}`);
}

/** The phases of a clean launch, from the first check (or a launch of their own when it did not run). */
async function cleanPhases(w: World): Promise<string[]> {
  if (w.phases) return w.phases;
  const run = await session(w, ['true']);
  assert.equal(await exitOf(run.child), 0, run.child.stderr());
  w.phases = [...new Set(phaseEvents(run.child.events))];
  return w.phases;
}

export function lifecycleChecks(w: () => World): BackendCheck[] {
  return [
    {
      name: 'run: launch, provision, attach; the command\'s stdout, stderr and exit code come back; it runs as node in the workspace with the bottle\'s env; nothing is left after',
      async run() {
        const r = await session(w(), ['sh', '-c', `echo "$(id -un) $(pwd) $HOME"; echo "proxy=$HTTPS_PROXY"; test -e ${PROVISIONED_MARK} && echo provisioned; echo to-stderr >&2; exit 7`]);
        const code = await exitOf(r.child);
        const launched = r.child.events.find((e): e is Extract<ChildEvent, { t: 'launched' }> => e.t === 'launched');
        assert.ok(launched, `the launch was reported: ${r.child.stderr()}`);
        assert.equal(code, 7, r.child.stderr());
        assert.equal(r.child.stdout(), `node /home/node/workspace /home/node\nproxy=${launched.endpoints.proxyUrl}\nprovisioned\n`);
        assert.match(r.child.stderr(), /^to-stderr$/m);
        assert.equal(launched.slug, r.slug);
        const phases = phaseEvents(r.child.events);
        for (const p of ['provision', 'ready']) assert.ok(phases.includes(p), `core's phase "${p}" was reported: ${phases.join(', ')}`);
        assert.ok(phases.indexOf('provision') > 0, `the backend reports phases of its own before provisioning: ${phases.join(', ')}`);
        w().phases = [...new Set(phases)];
        await nothingLeft(w(), r.slug, 'after the run');
        // The control: the same command exits 0 when it says so.
        const ok = await session(w(), ['sh', '-c', 'exit 0']);
        assert.equal(await exitOf(ok.child), 0, ok.child.stderr());
      },
    },
    {
      name: 'run: stdin reaches the attached command, binary and whole; without stdin it reads nothing',
      async run() {
        const text = await session(w(), ['tr', 'a-z', 'A-Z'], { stdin: 'hello bottle\n' });
        assert.equal(await exitOf(text.child), 0, text.child.stderr());
        assert.equal(text.child.stdout(), 'HELLO BOTTLE\n');
        const big = randomBytes(1024 * 1024);
        const sum = createHash('sha256').update(big).digest('hex');
        const binary = await session(w(), ['sh', '-c', 'sha256sum | cut -d" " -f1; echo'], { stdin: big });
        assert.equal(await exitOf(binary.child), 0, binary.child.stderr());
        assert.equal(binary.child.stdout().trim(), sum, '1 MiB of random bytes arrive unchanged');
        const none = await session(w(), ['sh', '-c', 'wc -c']);
        assert.equal(await exitOf(none.child), 0, none.child.stderr());
        assert.equal(none.child.stdout().trim(), '0');
      },
    },
    {
      name: 'run: on a terminal the command gets one (stdin and stdout) and reads what is typed; without one it gets plain pipes',
      async run() {
        const script = 'if [ -t 0 ] && [ -t 1 ]; then echo "terminal $(stty size)"; else echo "no terminal"; fi; printf "type: "; read line; echo "got <$line>"; exit 4';
        const tty = await session(w(), ['sh', '-c', script], { tty: true, terminal: true });
        try {
          let ended = false;
          void tty.child.exited.then(() => (ended = true));
          for (let i = 0; i < 1200 && !ended && !/type: $/.test(tty.child.stdout()); i++) await new Promise((r) => setTimeout(r, 100));
          assert.match(tty.child.stdout(), /terminal \d+ \d+\r\ntype: $/, `the command found a terminal and asked: ${JSON.stringify(tty.child.stdout().slice(-500))}`);
          tty.child.write('typed words\r');
          assert.equal(await exitOf(tty.child), 4, tty.child.stdout());
          assert.match(tty.child.stdout(), /got <typed words>\r\n/, 'the typed line came back, with a terminal\'s line ends');
        } finally {
          tty.child.kill('SIGKILL');
        }
        const pipes = await session(w(), ['sh', '-c', script], { stdin: 'piped words\n' });
        assert.equal(await exitOf(pipes.child), 4, pipes.child.stderr());
        assert.equal(pipes.child.stdout(), 'no terminal\ntype: got <piped words>\n', 'the control: pipes, bytes as sent');
        await nothingLeft(w(), tty.slug, 'after the terminal run');
      },
    },
    {
      name: 'keep: the bottle outlives its owner; ls shows it running; exec runs in it with its exit code; gc keeps it; stop removes everything; a second stop is a clear error',
      async run() {
        const kept = await session(w(), ['true'], { keep: true });
        assert.equal(await exitOf(kept.child), 0, kept.child.stderr());
        const slug = kept.slug;
        try {
          const listed = (await w().backend.list()).filter((b) => b.slug === slug);
          assert.equal(listed.length, 1, `ls lists it: ${JSON.stringify(listed)}`);
          assert.equal(listed[0]!.state, 'running');
          assert.equal(listed[0]!.agent, AGENT);
          assert.equal(listed[0]!.backend, w().under.name);
          if (w().under.resources) assert.notDeepEqual(await w().under.resources!(slug), [], 'the control: the engine holds it');
          const ex = startChild({ kind: 'exec', module: String(w().under.module), slug, argv: ['sh', '-c', 'id -un; pwd; exit 3'], tty: false }, { env: w().env });
          assert.equal(await exitOf(ex), 3, ex.stderr());
          assert.equal(ex.stdout(), 'node\n/home/node/workspace\n');
          const dry = await w().backend.gc({ dryRun: true });
          assert.deepEqual(dry.removed.filter((r) => r.includes(slug)), [], 'a kept bottle is not garbage');
          const gc = await w().backend.gc({ dryRun: false });
          assert.deepEqual(gc.removed.filter((r) => r.includes(slug)), []);
          assert.equal((await w().backend.list()).find((b) => b.slug === slug)?.state, 'running', 'still running after gc');
        } finally {
          await w().backend.stop(slug);
        }
        await nothingLeft(w(), slug, 'after stop');
        const again = await rejects(() => w().backend.stop(slug));
        assert.equal(again.code, 'BOTTLE_NOT_FOUND');
        assert.equal(again.exit, EXIT_USAGE);
        assert.match(again.message, new RegExp(slug));
        const exec = await rejects(() => w().backend.exec(slug, ['true'], { tty: false }));
        assert.equal(exec.code, 'BOTTLE_NOT_FOUND');
      },
    },
    {
      name: 'port: Backend.connect carries a host connection to a server on the bottle\'s loopback, both ways and byte for byte; one to a port nothing serves fails; the bottle opens nothing',
      async run() {
        const backend = w().backend;
        assert.equal(typeof backend.connect, 'function', 'the backend forwards ports (Backend.connect)');
        const serve = "require('net').createServer((s)=>s.pipe(s)).listen(4321,'127.0.0.1',()=>console.log('listening'))";
        const r = await session(w(), ['node', '-e', serve]);
        try {
          for (let i = 0; i < 600 && !r.child.stdout().includes('listening'); i++) await new Promise((res) => setTimeout(res, 100));
          assert.match(r.child.stdout(), /listening/, `the server in the bottle: ${r.child.stderr()}`);
          const sent = randomBytes(512 * 1024);
          const echoed = await new Promise<Buffer>((resolve, reject) => {
            void backend.connect!(r.slug, 4321).then((stream) => {
              const got: Buffer[] = [];
              let n = 0;
              stream.on('data', (b: Buffer) => {
                got.push(b);
                n += b.length;
                if (n >= sent.length) {
                  stream.destroy();
                  resolve(Buffer.concat(got));
                }
              });
              stream.on('error', reject);
              stream.write(sent);
            }, reject);
          });
          assert.equal(createHash('sha256').update(echoed).digest('hex'), createHash('sha256').update(sent).digest('hex'), 'the bytes came back whole');
          const refused = await backend.connect!(r.slug, 4322);
          const outcome = await new Promise<string>((resolve) => {
            refused.on('error', (e) => resolve(`error: ${e.message}`));
            refused.on('data', () => resolve('data'));
            refused.on('close', () => resolve('closed'));
            refused.resume();
          });
          assert.notEqual(outcome, 'data', 'nothing answers on a port nothing serves');
          const missing = await rejects(() => backend.connect!('nobottle-zzzzz', 4321));
          assert.equal(missing.code, 'BOTTLE_NOT_FOUND');
        } finally {
          r.child.kill('SIGKILL');
          await r.child.exited;
        }
        await gcUntilClean(w(), r.slug, r.child.pid);
      },
    },
    {
      name: 'a killed owner: ls shows its bottle running while the owner lives and orphaned once it is killed; gc reclaims it and leaves nothing',
      async run() {
        const r = await session(w(), ['sleep', '600']);
        await r.child.until((e) => e.t === 'phase' && e.phase === 'ready', 'the bottle was ready');
        try {
          assert.equal((await w().backend.list()).find((b) => b.slug === r.slug)?.state, 'running', 'the control: a live owner\'s bottle runs');
          const dry = await w().backend.gc({ dryRun: true });
          assert.deepEqual(dry.removed.filter((x) => x.includes(r.slug)), [], 'a live owner\'s bottle is not garbage');
        } finally {
          r.child.kill('SIGKILL');
          await r.child.exited;
        }
        const after = (await w().backend.list()).find((b) => b.slug === r.slug);
        assert.equal(after?.state, 'orphaned', `ls tells the truth about a killed owner's bottle: ${JSON.stringify(after)}`);
        const { removed } = await gcUntilClean(w(), r.slug, r.child.pid);
        assert.ok(removed.some((x) => x.includes(r.slug)), `gc says what it removed: ${removed.join('; ')}`);
      },
    },
    {
      name: 'SIGKILL of the owner at each phase of a launch: ls never shows the bottle running, and gc leaves nothing',
      async run() {
        const phases = await cleanPhases(w());
        assert.ok(phases.length >= 3, `a launch reports its phases: ${phases.join(', ')}`);
        for (const phase of phases) {
          const r = await session(w(), ['sleep', '600']);
          await r.child.until((e) => e.t === 'phase' && e.phase === phase, `phase "${phase}"`);
          r.child.kill('SIGKILL');
          await r.child.exited;
          const listed = (await w().backend.list()).find((b) => b.slug === r.slug);
          assert.ok(!listed || listed.state === 'orphaned', `killed at "${phase}": ls says ${listed?.state}, not orphaned`);
          if (!listed) assert.ok(!(await leftovers(w(), r.slug)).some((l) => l.startsWith('state dir')), `killed at "${phase}": a state dir without a line in ls`);
          await gcUntilClean(w(), r.slug, r.child.pid).catch((e: Error) => {
            e.message = `killed at "${phase}": ${e.message}`;
            throw e;
          });
        }
      },
    },
    {
      name: 'an abort (AbortSignal) at each phase of a launch: the launch stops, interrupted, before the command runs; nothing is left after gc',
      async run() {
        const phases = await cleanPhases(w());
        for (const phase of phases) {
          const r = await session(w(), ['sh', '-c', 'echo the command ran'], { abortAt: phase });
          const code = await exitOf(r.child);
          const aborted = r.child.events.find((e): e is Extract<ChildEvent, { t: 'aborted' }> => e.t === 'aborted');
          assert.ok(aborted, `aborted at "${phase}": ${r.child.stderr()}`);
          if (!aborted.readySeen) {
            const error = r.child.events.find((e): e is Extract<ChildEvent, { t: 'error' }> => e.t === 'error');
            assert.equal(error?.code, 'INTERRUPTED', `aborted at "${phase}": the launch says it was interrupted: ${JSON.stringify(error)} ${r.child.stderr()}`);
            assert.equal(code, EXIT_INTERRUPTED, `aborted at "${phase}"`);
            assert.equal(r.child.stdout(), '', `aborted at "${phase}": the command never ran`);
          }
          await gcUntilClean(w(), r.slug, r.child.pid).catch((e: Error) => {
            e.message = `aborted at "${phase}": ${e.message}`;
            throw e;
          });
        }
      },
    },
  ];
}
