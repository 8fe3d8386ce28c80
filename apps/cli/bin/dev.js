#!/usr/bin/env node
// Development entry: oclif loads commands and linked plugins from their TypeScript sources (via tsx).
import { execute } from '@oclif/core';

await execute({ development: true, dir: import.meta.url });
