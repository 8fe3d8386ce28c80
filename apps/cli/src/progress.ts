/** Progress lines and interrupts for the commands that launch bottles. */
import { EXIT_INTERRUPTED, type LaunchProgress } from '@bot-bottle/core';

/** Progress as plain lines on stderr (never stdout: that is the command's data). */
export function progressPrinter(quiet: boolean): LaunchProgress {
  const started = Date.now();
  return (phase, detail) => {
    if (quiet) return;
    const t = ((Date.now() - started) / 1000).toFixed(1).padStart(5);
    process.stderr.write(`bottle [${t}s] ${phase}${detail ? `: ${detail}` : ''}\n`);
  };
}

/** Turns SIGINT/SIGTERM into an abort, once; a second signal leaves the clean-up to `bottle gc`. */
export function interruptSignal(onFirst: () => void): { signal: AbortSignal; dispose(): void } {
  const ac = new AbortController();
  let count = 0;
  const handler = (sig: NodeJS.Signals) => {
    count++;
    if (count === 1) {
      onFirst();
      ac.abort(new Error(`interrupted by ${sig}`));
    } else {
      process.stderr.write('bottle: interrupted again; leaving the rest to `bottle gc`\n');
      process.exit(EXIT_INTERRUPTED);
    }
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signal: ac.signal,
    dispose() {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}
