#!/usr/bin/env node
import module from 'node:module';

// V8's compiled code is kept across runs (Node's compile cache, in the OS temp dir): start-up is a
// good part of a short command. Enabled before anything else is imported.
module.enableCompileCache?.();

// A plugin linked with `bottle plugins link` runs from its built dist/ here (bin/dev.js runs sources);
// oclif would warn about that on every command, burying the command's own output.
process.env.OCLIF_DISABLE_LINKED_ESM_WARNING ??= '1';

const { execute } = await import('@oclif/core');
await execute({ dir: import.meta.url });
