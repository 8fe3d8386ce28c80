/**
 * The conformance checks every backend passes, whatever its engine: a bottle's life (run, stdin,
 * a terminal, keep/ls/exec/stop, a killed owner, SIGKILL and abort at each launch phase, then gc),
 * the built-in provisioners' results inside the bottle, egress and its audit lines, the secret
 * canary, git through the gate, and isolation probes from inside. They use only the Backend
 * contract, core's own plan and runner, and host services they start themselves.
 *
 * A backend package describes itself in a module whose default export is a BackendUnderTest, and
 * registers the checks with its test runner (uvu's suite, for one):
 *
 *     // test/under-test.ts
 *     export default { name: 'docker', module: import.meta.url, make: (env) => new DockerBackend(env), setup, resources } satisfies BackendUnderTest;
 *
 *     // test/integration/conformance.test.ts
 *     const test = suite('conformance: docker');
 *     backendChecks(dockerUnderTest, { provisioners: [ca, git, prompt, skills, supervise] }).register(test);
 *     test.run();
 */
import { networkInterfaces } from 'node:os';
import { isBottleError } from '../../errors.js';
import { egressChecks } from './egress.js';
import { gitChecks } from './git.js';
import { isolationChecks } from './isolation.js';
import { lifecycleChecks } from './lifecycle.js';
import { provisionerChecks } from './provisioned.js';
import type { BackendUnderTest } from './under-test.js';
import { endWorld, makeWorld, type BackendChecksOptions, type World } from './world.js';

export type { BackendChecksOptions } from './world.js';
export type { BackendSetup, BackendUnderTest, CheckRun } from './under-test.js';

export interface BackendCheck {
  name: string;
  run(): Promise<void>;
}

/** What `register` needs of a test runner's suite: uvu's `suite()` has this shape. */
export interface SuiteLike {
  (name: string, fn: () => Promise<void>): void;
  before(fn: () => Promise<void>): void;
  after(fn: () => Promise<void>): void;
}

export interface BackendChecks {
  /**
   * Sets up the world (the backend's setup, the host upstreams), once; every check awaits it, so a
   * setup that fails fails each check (uvu, for one, reports a throwing before-hook as a pass).
   */
  before(): Promise<void>;
  /** Stops what the checks left running and tears the world down; run once at the end. */
  after(): Promise<void>;
  checks: BackendCheck[];
  /** Registers every check and `after` on `suite`. */
  register(suite: SuiteLike): void;
}

/**
 * A failure as any runner can print it. uvu 0.5 formats `details` as a string: a BottleError (whose
 * details are lines) thrown from a test makes it stop and report the suite as passed, exit 0.
 */
function reportable(e: unknown): unknown {
  if (!isBottleError(e)) return e;
  const text = [`${e.code}: ${e.message}`, ...e.details, ...e.suggestions.map((s) => `fix: ${s}`)].join('\n');
  return new Error(text, { cause: e });
}

/** The checks for one backend. Nothing starts until the first check (or `before`) runs. */
export function backendChecks(under: BackendUnderTest, options: BackendChecksOptions): BackendChecks {
  let world: World | undefined;
  let starting: Promise<World> | undefined;
  const w = (): World => {
    if (!world) throw new Error('the backend checks\' world is not set up');
    return world;
  };
  const hostInterfaces = () => Object.values(networkInterfaces()).flat().flatMap((i) => (i && i.family === 'IPv4' ? [i.address] : []));
  const names = new Set(options.provisioners.map((d) => d.name));
  const missing = ['ca', 'git', 'prompt', 'skills', 'supervise'].filter((n) => !names.has(n));
  const before = async () => {
    if (missing.length) throw new Error(`backendChecks needs the built-in provisioners; missing: ${missing.join(', ')} (pass their definitions in options.provisioners)`);
    starting ??= makeWorld(under, options, hostInterfaces());
    world = await starting;
  };
  const checks = [...lifecycleChecks(w), ...provisionerChecks(w), ...egressChecks(w), ...gitChecks(w), ...isolationChecks(w)].map((c) => ({
    name: c.name,
    run: async () => {
      try {
        await before();
        await c.run();
      } catch (e) {
        throw reportable(e);
      }
    },
  }));
  const self: BackendChecks = {
    before,
    async after() {
      const made = starting;
      starting = undefined;
      world = undefined;
      const done = await made?.catch(() => undefined); // a setup that failed cleaned up after itself
      if (done) await endWorld(done);
    },
    checks,
    register(suite) {
      for (const c of checks) suite(c.name, c.run);
      suite.after(self.after);
    },
  };
  return self;
}
