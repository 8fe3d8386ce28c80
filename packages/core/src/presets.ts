/**
 * Egress presets: package registries as data, so that `"egress": {"presets": ["npm", "pypi"]}`
 * lets an agent install dependencies without opening the internet. Each preset expands to routes
 * for its registry's hosts, reading only (GET and HEAD; a clone's POST to git-upload-pack is the one
 * write-shaped request that reads), HTTPS on 443: installing works, publishing does not. A preset
 * may carry `to` (an internal mirror, a test's stand-in): every host of the preset then goes there.
 *
 * The hosts are the registries' own documented endpoints; `bottle presets` lists them.
 */
import type { EgressRoute } from './manifest/schema.js';

export interface EgressPreset {
  name: string;
  description: string;
  /** The routes, without `to` (added per use). */
  routes: readonly EgressRoute[];
}

const READ = ['GET', 'HEAD'] as const;
const read = (host: string, paths?: readonly string[]): EgressRoute => ({ host, methods: [...READ], ...(paths ? { paths: [...paths] } : {}) });

export const EGRESS_PRESETS: readonly EgressPreset[] = [
  {
    name: 'npm',
    description: 'the npm registry (packuments and tarballs): npm, pnpm, yarn installs',
    routes: [read('registry.npmjs.org')],
  },
  {
    name: 'pypi',
    description: 'PyPI: the simple index and JSON API (pypi.org) and the files (files.pythonhosted.org): pip, uv, poetry installs',
    routes: [read('pypi.org', ['/simple/', '/pypi/']), read('files.pythonhosted.org', ['/packages/'])],
  },
  {
    name: 'crates',
    description: 'the Rust crate registry: the sparse index (index.crates.io) and the crate files (static.crates.io): cargo fetch and build',
    routes: [read('index.crates.io'), read('static.crates.io', ['/crates/'])],
  },
  {
    name: 'go',
    description: 'the Go module proxy (proxy.golang.org) and checksum database (sum.golang.org): go mod download',
    routes: [read('proxy.golang.org'), read('sum.golang.org')],
  },
  {
    name: 'github',
    description: 'GitHub, read-only: clone and fetch over HTTPS (git-upload-pack), release assets, raw content and archives; no push, no API writes',
    routes: [
      read('github.com'),
      // A clone asks for refs with GET and for the pack with POST to git-upload-pack; git-receive-pack (push) stays refused.
      { host: 'github.com', methods: ['POST'], paths: ['/*/*/git-upload-pack'] },
      read('codeload.github.com'),
      read('raw.githubusercontent.com'),
      read('objects.githubusercontent.com'),
      read('release-assets.githubusercontent.com'),
    ],
  },
];

export const PRESET_NAMES = EGRESS_PRESETS.map((p) => p.name);

export interface PresetUse {
  name: string;
  to?: string;
}

/** The routes a list of presets stands for, in order, each with the use's `to` if it has one. */
export function expandPresets(uses: readonly (string | PresetUse)[]): EgressRoute[] {
  const out: EgressRoute[] = [];
  for (const use of uses) {
    const u = typeof use === 'string' ? { name: use } : use;
    const preset = EGRESS_PRESETS.find((p) => p.name === u.name);
    if (!preset) continue; // the schema refuses unknown names
    for (const r of preset.routes) out.push(structuredClone({ ...r, ...(u.to ? { to: u.to } : {}) }));
  }
  return out;
}
