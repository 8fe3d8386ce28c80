/** Reading a manifest file and validating its value: schema first, then the cross-checks; one error lists every problem. */
import { readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import * as v from 'valibot';
import { BottleError, EXIT_USAGE } from '../errors.js';
import { bottleReferenceProblems, crossCheck, reservedNameLines } from './checks.js';
import { expandHome } from './file-paths.js';
import { issueLines } from './issues.js';
import { MANIFEST_MAX_BYTES, parseJsonText } from './parse.js';
import { ManifestSchema, type Manifest } from './schema.js';

/** A manifest that passed every check, with where it came from (relative paths resolve against its folder). */
export interface LoadedManifest {
  manifest: Manifest;
  /** Absolute path of the file, or '<inline>' for manifests given as text. */
  source: string;
  /** Folder relative paths in the manifest are resolved against. */
  baseDir: string;
}

/** Validates a parsed value: schema first, then cross-checks. Throws one BottleError listing every problem. */
export async function validateManifest(value: unknown, source: string, baseDir: string, home = homedir()): Promise<LoadedManifest> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new BottleError('MANIFEST_INVALID', `${source} is not a valid manifest`, {
      details: [`(top level): expected an object with "bottles" and "agents" but got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`],
      suggestions: ['Run `bottle init` for a starter manifest.'],
      exit: EXIT_USAGE,
    });
  }
  const reserved = reservedNameLines(value as Record<string, unknown>);
  const result = v.safeParse(ManifestSchema, value);
  if (!result.success || reserved.length) {
    throw new BottleError('MANIFEST_INVALID', `${source} is not a valid manifest`, {
      details: [...new Set([...reserved, ...(result.success ? [] : issueLines(result.issues)), ...bottleReferenceProblems(value)])],
      suggestions: ['Fix each key named above; every key is described in docs/manifest.md of the bot-bottle repository.'],
      exit: EXIT_USAGE,
    });
  }
  const problems = await crossCheck(result.output, baseDir, home);
  if (problems.length) {
    throw new BottleError('MANIFEST_INVALID', `${source} is not a valid manifest`, {
      details: problems,
      suggestions: ['Fix each key named above.'],
      exit: EXIT_USAGE,
    });
  }
  return { manifest: result.output, source, baseDir };
}

export async function parseManifestText(text: string, source: string, baseDir: string, home = homedir()): Promise<LoadedManifest> {
  return validateManifest(parseJsonText(text, source), source, baseDir, home);
}

export async function loadManifest(file: string, home = homedir()): Promise<LoadedManifest> {
  const abs = path.resolve(expandHome(file, home));
  const st = await stat(abs).catch((e: NodeJS.ErrnoException) => e);
  if (st instanceof Error) {
    const code = (st as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new BottleError('MANIFEST_NOT_FOUND', `manifest ${abs} does not exist`, {
        suggestions: ['Check the path, or run `bottle init` to write a starter manifest.'],
        exit: EXIT_USAGE,
      });
    }
    throw new BottleError('MANIFEST_UNREADABLE', `cannot read manifest ${abs} (${code ?? st.message})`, {
      suggestions: code === 'EACCES' ? [`Make it and its folders readable, e.g. chmod u+r ${abs}`] : ['Check the file and its permissions.'],
      exit: EXIT_USAGE,
      cause: st,
    });
  }
  if (st.isDirectory()) {
    throw new BottleError('MANIFEST_UNREADABLE', `manifest ${abs} is a directory, not a file`, {
      suggestions: [`Point at the file inside it, e.g. --manifest ${path.join(abs, 'bottle.json')}`],
      exit: EXIT_USAGE,
    });
  }
  if (!st.isFile()) {
    throw new BottleError('MANIFEST_UNREADABLE', `manifest ${abs} is not a regular file`, {
      suggestions: ['Point at a bottle.json file.'],
      exit: EXIT_USAGE,
    });
  }
  if (st.size > MANIFEST_MAX_BYTES) {
    throw new BottleError('MANIFEST_INVALID', `${abs}: the manifest is ${(st.size / 1048576).toFixed(1)} MiB; the limit is 1 MiB`, {
      details: [`(top level): ${st.size} bytes is more than ${MANIFEST_MAX_BYTES}`],
      suggestions: ['A manifest holds names and settings only; keep prompts and skills in files beside it.'],
      exit: EXIT_USAGE,
    });
  }
  let text: string;
  try {
    text = await readFile(abs, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new BottleError('MANIFEST_UNREADABLE', `cannot read manifest ${abs} (${code ?? 'error'})`, {
      suggestions: code === 'EACCES' ? [`Make it readable: chmod u+r ${abs}`] : ['Check the file and its permissions.'],
      exit: EXIT_USAGE,
      cause: e,
    });
  }
  return parseManifestText(text, abs, path.dirname(abs), home);
}
