/**
 * A bound on the bottle's connections to its gateway that a flood cannot turn into a denial of
 * service: when a new connection would go over the bound, the connection idle the longest (no
 * request in flight: a slow-loris that never finishes its headers, a keep-alive nobody uses) is
 * closed to make room. Only when every connection is busy is the new one refused.
 */
import type net from 'node:net';

export class ClientSlots {
  /** Idle connections, oldest first (a Map keeps insertion order). */
  private readonly idle = new Map<net.Socket, true>();
  private readonly busy = new Map<net.Socket, number>();
  evicted = 0;
  refused = 0;

  constructor(private readonly max: number) {}

  get size(): number {
    return this.idle.size + this.busy.size;
  }

  sockets(): net.Socket[] {
    return [...this.idle.keys(), ...this.busy.keys()];
  }

  /** Takes a new connection; false (and the socket destroyed) when every slot is busy. */
  add(s: net.Socket): boolean {
    if (this.idle.has(s) || this.busy.has(s)) return true;
    while (this.size >= this.max) {
      const oldest = this.idle.keys().next();
      if (oldest.done) {
        this.refused++;
        s.destroy();
        return false;
      }
      this.idle.delete(oldest.value);
      this.evicted++;
      oldest.value.destroy();
    }
    this.idle.set(s, true);
    s.once('close', () => {
      this.idle.delete(s);
      this.busy.delete(s);
    });
    return true;
  }

  /** A request (or tunnel, or upgrade) started on `s`. */
  start(s: net.Socket): void {
    if (s.destroyed) return;
    if (this.idle.delete(s)) this.busy.set(s, 1);
    else if (this.busy.has(s)) this.busy.set(s, this.busy.get(s)! + 1);
  }

  /** A request on `s` ended; with none left in flight it is idle again, newest in the queue. */
  end(s: net.Socket): void {
    const n = this.busy.get(s);
    if (n === undefined) return;
    if (n > 1) this.busy.set(s, n - 1);
    else {
      this.busy.delete(s);
      if (!s.destroyed) this.idle.set(s, true);
    }
  }
}
