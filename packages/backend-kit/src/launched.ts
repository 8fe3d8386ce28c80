/**
 * A launched bottle as the CLI holds it, put together the same way for every backend: the ready
 * promise (the bundle finishes starting while provisioning runs), attach racing a bundle that
 * never comes up, a kept bottle handed over only once its bundle is up, and a destroy that is
 * safe to call twice.
 */
import type { AgentEndpoints, LaunchProgress, LaunchedBottle, Target } from '@bot-bottle/core';

export interface LaunchedParts {
  slug: string;
  /** The provisioners' Target; `close` ends its exec channel once provisioning is over. */
  target: Target & { close?(): Promise<void> };
  endpoints: AgentEndpoints;
  /** The bundle's ready wait (waitForBundle), already started. */
  ready: Promise<void>;
  /** Aborts the ready wait (nothing left to wait for once the bottle is being destroyed). */
  stopWaiting: AbortController;
  keep: boolean;
  progress: LaunchProgress;
  /** Runs the agent's command attached to this process's terminal; its exit code. */
  run(argv: readonly string[], options: { tty: boolean; env: Readonly<Record<string, string>> }): Promise<number>;
  /** Removes everything of the bottle. */
  remove(): Promise<void>;
}

export function launchedBottle(p: LaunchedParts): LaunchedBottle {
  let interactive = false;
  const ready = p.ready.then(() => {
    // Not in the middle of an interactive session: a log line would land in the agent's screen.
    if (!interactive) p.progress('bundle ready');
  });
  ready.catch(() => undefined); // observed by attach (and by whoever awaits `ready`)
  let destroyed: Promise<void> | null = null;
  return {
    slug: p.slug,
    target: p.target,
    endpoints: { ...p.endpoints },
    ready,
    attach: async (argv, o) => {
      await p.target.close?.(); // provisioning is over; the agent's command runs on its own exec
      interactive = o.tty;
      const failed = ready.then(() => new Promise<never>(() => undefined));
      const code = await Promise.race([p.run(argv, { tty: o.tty, env: o.env ?? {} }), failed]);
      // A kept bottle is handed over only once its bundle is known to be up.
      if (p.keep) await ready;
      return code;
    },
    destroy: () => {
      destroyed ??= (async () => {
        p.stopWaiting.abort(); // nothing left to wait for; and the wait must not hold the process
        await p.target.close?.();
        await p.remove();
      })();
      return destroyed;
    },
  };
}
