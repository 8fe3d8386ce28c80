/**
 * Garbage collection paced by the bytes the gateway streams.
 *
 * Every chunk Node reads from a socket lands in a fresh ArrayBuffer that V8 frees only when a GC
 * runs. V8 starts one when the young generation fills (with its default size, thousands of chunks'
 * worth of small objects) or when external memory has grown by 64 MiB since the last one. A proxy
 * moving hundreds of MiB therefore carries tens of MiB of chunks it has already forwarded: that,
 * not buffering, is what made its RSS rise during a large download. A young-generation collection
 * (a scavenge: it costs in proportion to what is alive, well under a millisecond here) after every
 * few MiB streamed keeps that garbage to a few MiB.
 */
import v8 from 'node:v8';
import vm from 'node:vm';

type GcFunction = (options?: { type?: 'major' | 'minor'; execution?: 'sync' | 'async' }) => unknown;

let cached: GcFunction | null | undefined;

/** V8's `gc` function, without exposing it on this process's global object; null if unavailable. */
function gcFunction(): GcFunction | null {
  if (cached !== undefined) return cached;
  const own = (globalThis as { gc?: unknown }).gc;
  if (typeof own === 'function') return (cached = own as GcFunction);
  try {
    // The flag only decides whether contexts made from now on get `gc`; it is switched off again
    // right after this one context is made.
    v8.setFlagsFromString('--expose-gc');
    const fn = vm.runInNewContext('gc') as unknown;
    cached = typeof fn === 'function' ? (fn as GcFunction) : null;
  } catch {
    cached = null;
  } finally {
    v8.setFlagsFromString('--no-expose-gc');
  }
  return cached;
}

/**
 * After this many young-generation collections, a full one instead: what each scavenge promotes
 * (a chunk still in flight at that moment) piles up in the old generation, which V8 collects only
 * when it reaches a limit that grows with the heap. A gateway that loads little code starts with a
 * small heap, so over a 1 GiB body the old generation grew ~16 MiB before V8 collected it; a full
 * collection of a heap this size takes a few milliseconds, once per 256 MiB at the default pace.
 */
const MINOR_PER_MAJOR = 256;

/** Counts streamed bytes and runs a young-generation GC after every `everyBytes` of them. */
export class GcPacer {
  private pending = 0;
  private minors = 0;
  private readonly gc: GcFunction | null;

  constructor(private readonly everyBytes = 1024 * 1024) {
    this.gc = everyBytes > 0 ? gcFunction() : null;
  }

  /** Notes `n` bytes read from a socket; collects when enough have gone by. */
  add(n: number): void {
    if (!this.gc) return;
    this.pending += n;
    if (this.pending < this.everyBytes) return;
    this.pending = 0;
    this.gc({ type: ++this.minors % MINOR_PER_MAJOR === 0 ? 'major' : 'minor' });
  }
}
