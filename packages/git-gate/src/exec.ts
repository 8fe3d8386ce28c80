/**
 * execa, loaded on first use. The bundle's supervisor imports this package for its config schema
 * alone and stays resident for the bottle's life; execa (with its dependencies) is ~15 MiB of what
 * an import of this package otherwise costs it.
 */
import type { execa as Execa } from 'execa';

let loaded: Promise<typeof Execa> | null = null;

export function loadExeca(): Promise<typeof Execa> {
  loaded ??= import('execa').then((m) => m.execa);
  return loaded;
}
