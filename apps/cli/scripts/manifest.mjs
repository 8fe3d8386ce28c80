#!/usr/bin/env node
// Writes oclif.manifest.json (what `oclif manifest` writes): the commands, their flags and args, so
// that `bottle` imports only the command it runs instead of every command file at start-up.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Plugin } from '@oclif/core';

const root = path.resolve(import.meta.dirname, '..');
const plugin = new Plugin({ root, type: 'core', ignoreManifest: true, errorOnManifestCreate: true, respectNoCacheDefault: true });
await plugin.load();
await writeFile(path.join(root, 'oclif.manifest.json'), `${JSON.stringify(plugin.manifest, null, 2)}\n`);
