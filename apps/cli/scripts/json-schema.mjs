#!/usr/bin/env node
// Writes schema/bottle.schema.json: a JSON Schema for bottle.json generated from the valibot
// schema `bottle validate` uses, so editors complete and check manifests. It carries the shape
// (keys, types, enums, required keys, patterns valibot can express); checks the JSON Schema cannot
// say (cross-references, paths that must exist, env var rules) stay with `bottle validate`.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { toJsonSchema } from '@valibot/to-json-schema';
import { ManifestSchema } from '@bot-bottle/core';

const root = path.resolve(import.meta.dirname, '..');
const pkg = JSON.parse(await (await import('node:fs/promises')).readFile(path.join(root, 'package.json'), 'utf8'));
// errorMode 'ignore': a custom check (e.g. "an object, not an array") has no JSON Schema form and is
// left to `bottle validate` instead of failing the build.
const generated = toJsonSchema(ManifestSchema, { errorMode: 'ignore', target: 'draft-07' });
const schema = {
  ...generated,
  title: 'bot-bottle manifest (bottle.json)',
  description: `The bottles and agents \`bottle\` runs. Generated from the manifest schema of ${pkg.name} ${pkg.version}; \`bottle validate\` checks more than this schema can say.`,
};
await mkdir(path.join(root, 'schema'), { recursive: true });
await writeFile(path.join(root, 'schema', 'bottle.schema.json'), `${JSON.stringify(schema, null, 2)}\n`);
