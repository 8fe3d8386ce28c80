/**
 * What a backend package hands the checks: how to make its backend, and what only its engine can
 * tell (where the bundle reaches this host, what it holds for a bottle). It lives in a module of its
 * own whose default export it is, because the checks also make the backend in child processes.
 */
import { pathToFileURL } from 'node:url';
import type { Backend } from '../../backend.js';

/** This run of the checks: everything it makes carries `labelKey=id` (plans' labels, and the backend's own test resources). */
export interface CheckRun {
  id: string;
  labelKey: string;
  /** `labelKey=id`, as `docker --label` and `--filter label=` take it. */
  label: string;
  /** A folder of this run's own (removed at the end), for what setup makes on the host. */
  dir: string;
}

export interface BackendSetup {
  /** Added to the environment of every plan, backend and child process (e.g. the bundle's network). */
  env?: Record<string, string>;
  /**
   * The address at which the bundle reaches a service listening on this host's 0.0.0.0 (for the
   * docker bundle: its network's gateway). The checks' HTTP and git upstreams are reached there;
   * the bottle must reach neither, at that address or any other.
   */
  hostAddress: string;
  /** More addresses the bottle must not reach this host at (e.g. a VM engine's gateway to host loopback). */
  moreHostAddresses?: string[];
}

export interface BackendUnderTest {
  /** Backend.name, the name plans are made for. */
  name: string;
  /**
   * The URL of the module whose default export is this object (`import.meta.url` there): child
   * processes import it to make the backend.
   */
  module: string | URL;
  /** The backend, for `env` (the checks' state home, the routes' secrets, setup's env). Called in this process and in each child. */
  make(env: NodeJS.ProcessEnv): Backend | Promise<Backend>;
  /** Once before any check, in the checks' process: images, a test network, an engine stand-in. */
  setup(run: CheckRun): Promise<BackendSetup>;
  /** Once after every check: remove what setup made and anything still labelled with `run.label`. */
  teardown?(run: CheckRun): Promise<void>;
  /**
   * What the engine holds for a bottle (containers, machines, volumes, networks), one line each, as
   * the engine itself lists them: "leaves nothing" means this is empty too, not only `Backend.list`.
   */
  resources?(slug: string): Promise<string[]>;
  /** The engine's own description of the bottle (e.g. `docker inspect`), searched for secrets. */
  describe?(slug: string): Promise<string>;
}

/** The BackendUnderTest a module exports as its default, checked. */
export async function loadUnderTest(module: string | URL): Promise<BackendUnderTest> {
  const href = module instanceof URL ? module.href : /^[a-z][a-z0-9+.-]*:/i.test(module) ? module : pathToFileURL(module).href;
  const mod = (await import(href)) as { default?: Partial<BackendUnderTest> };
  const u = mod.default;
  if (!u || typeof u.make !== 'function' || typeof u.name !== 'string' || typeof u.setup !== 'function') {
    throw new TypeError(`${href} must export as its default the BackendUnderTest the checks were given (name, module, make, setup)`);
  }
  return u as BackendUnderTest;
}
