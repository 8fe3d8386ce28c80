#!/usr/bin/env node
import { execute } from '@oclif/core';

// A plugin linked with `bottle plugins link` runs from its built dist/ here (bin/dev.js runs sources);
// oclif would warn about that on every command, burying the command's own output.
process.env.OCLIF_DISABLE_LINKED_ESM_WARNING ??= '1';

await execute({ dir: import.meta.url });
