/**
 * A bottle's own image, resolved: the manifest's `"image"` (a reference, a Dockerfile, or a
 * devcontainer.json) turned into what the image builder needs, with every path made absolute and
 * every problem named by its JSON path. Reads files (the devcontainer.json, whether the Dockerfile
 * and context exist) and nothing else; the same resolution serves `bottle validate` (problems as
 * lines) and the plan (problems as one error).
 */
import { readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { describeValue, formatPath } from './describe.js';
import { resolveManifestPath } from './file-paths.js';
import { IMAGE_REF_RULE, imageRefProblem, isPlainObject, type BottleConfig } from './schema.js';

/** Where a bottle's image comes from: bot-bottle's own agent image, or the user's (and how it is made). */
export type ImageSource = 'default' | 'reference' | 'dockerfile' | 'devcontainer';

/** A `docker build` of the user's image: absolute paths, build args, an optional stage. */
export interface ImageBuildPlan {
  dockerfile: string;
  context: string;
  args: Record<string, string>;
  target?: string;
}

export interface ImagePlan {
  source: ImageSource;
  /** The image to layer on: the manifest's reference, or a devcontainer.json's "image". */
  ref?: string;
  /** How to build the image to layer on (a Dockerfile entry, or a devcontainer.json's "build"). */
  build?: ImageBuildPlan;
  /** The devcontainer.json it was read from (absolute). */
  devcontainer?: string;
  /** A devcontainer.json's local features (folders beside it), installed on the image in this order. */
  features?: DevcontainerFeature[];
  /** The manifest key it came from (`bottles.dev.image`); absent for the default image. */
  key?: string;
}

/**
 * A devcontainer feature kept in the project (`"./name"`: a folder with devcontainer-feature.json and
 * install.sh): built here, with no registry. Its options are the install script's environment
 * (OPTION_NAME=value, defaults from devcontainer-feature.json), its containerEnv the image's.
 */
export interface DevcontainerFeature {
  /** As the devcontainer.json names it ("./hello"). */
  id: string;
  /** Its folder (absolute). */
  dir: string;
  /** The install script's environment: each option by its variable name, then the _REMOTE_USER family. */
  env: Record<string, string>;
  /** ENV of the image after it (its containerEnv). */
  containerEnv: Record<string, string>;
}

export const DEFAULT_IMAGE_PLAN: ImagePlan = { source: 'default' };

/** Devcontainer keys about the running container, not its image: read by an editor, not here. */
const DEVCONTAINER_BUILD_KEYS = new Set(['dockerfile', 'context', 'args', 'target', 'cacheFrom', 'options']);

export interface ResolvedImage {
  plan: ImagePlan;
  problems: string[];
}

function kindOf(p: string): 'file' | 'dir' | 'other' | 'missing' {
  const st = statSync(p, { throwIfNoEntry: false });
  if (!st) return 'missing';
  return st.isFile() ? 'file' : st.isDirectory() ? 'dir' : 'other';
}

function shown(abs: string, given: string): string {
  return abs === given ? abs : `${abs} (from "${given}")`;
}

/** The bottle's image as the builder needs it, and what is wrong with it (each line a JSON path and a fix). */
export function resolveBottleImage(bottleName: string, image: BottleConfig['image'], baseDir: string, home = homedir()): ResolvedImage {
  const key = ['bottles', bottleName, 'image'];
  if (image === undefined) return { plan: DEFAULT_IMAGE_PLAN, problems: [] };
  if (typeof image === 'string') return { plan: { source: 'reference', ref: image, key: formatPath(key) }, problems: [] };
  const problems: string[] = [];
  if (image.devcontainer !== undefined) {
    const file = resolveManifestPath(image.devcontainer, baseDir, home);
    const at = formatPath([...key, 'devcontainer']);
    const plan: ImagePlan = { source: 'devcontainer', devcontainer: file, key: formatPath(key) };
    const kind = kindOf(file);
    if (kind !== 'file') {
      const why = kind === 'missing' ? 'does not exist' : kind === 'dir' ? 'is a directory' : 'is not a regular file';
      problems.push(`${at}: ${shown(file, image.devcontainer)} ${why}; point it at a devcontainer.json (a relative path is read from the manifest's folder, ${baseDir})`);
      return { plan, problems };
    }
    const read = readDevcontainer(file, at);
    if ('problems' in read) return { plan, problems: read.problems };
    return { plan: { ...plan, ...read.image }, problems };
  }
  const dockerfileGiven = image.dockerfile ?? 'Dockerfile';
  const dockerfile = resolveManifestPath(dockerfileGiven, baseDir, home);
  const context = resolveManifestPath(image.context ?? '.', baseDir, home);
  const df = kindOf(dockerfile);
  if (df !== 'file') problems.push(`${formatPath([...key, 'dockerfile'])}: ${shown(dockerfile, dockerfileGiven)} ${df === 'missing' ? 'does not exist' : 'is not a file'}; point it at the Dockerfile (a relative path is read from the manifest's folder, ${baseDir})`);
  const ctx = kindOf(context);
  if (ctx !== 'dir') problems.push(`${formatPath([...key, 'context'])}: ${shown(context, image.context ?? '.')} ${ctx === 'missing' ? 'does not exist' : 'is not a directory'}; point it at the build context folder (default ".", the manifest's folder)`);
  const build: ImageBuildPlan = { dockerfile, context, args: { ...(image.args ?? {}) }, ...(image.target ? { target: image.target } : {}) };
  return { plan: { source: 'dockerfile', build, key: formatPath(key) }, problems };
}

/**
 * The image part of a devcontainer.json: `image`, or `build` (`dockerfile`, `context`, `args`,
 * `target`; the older top-level `dockerFile` and `context` too). Paths in it are relative to the
 * file's own folder, as the devcontainer spec says. Features kept in the project ("./name") are
 * installed; any other (an OCI reference such as ghcr.io/..., a tarball URL) is refused: it is fetched
 * from a registry, and bot-bottle builds without one.
 */
function readDevcontainer(file: string, at: string): { image: Pick<ImagePlan, 'ref' | 'build' | 'features'> } | { problems: string[] } {
  const where = `${at}: ${file}`;
  let value: unknown;
  try {
    value = parseJsonc(readFileSync(file, 'utf8'));
  } catch (e) {
    return { problems: [`${where} is not valid JSON (with comments): ${(e as Error).message}`] };
  }
  if (!isPlainObject(value)) return { problems: [`${where}: expected an object but got ${describeValue(value)}`] };
  const problems: string[] = [];
  const dir = path.dirname(file);
  const features: DevcontainerFeature[] = [];
  if (value.features !== undefined) {
    if (!isPlainObject(value.features)) problems.push(`${where}: "features" must be an object such as {"./my-feature": {}}`);
    else {
      for (const [id, options] of Object.entries(value.features)) {
        const read = localFeature(id, options, dir, `${where}: features[${JSON.stringify(id)}]`);
        if (typeof read === 'string') problems.push(read);
        else features.push(read);
      }
    }
  }
  if (value.dockerComposeFile !== undefined) {
    problems.push(`${where}: "dockerComposeFile" is not supported (a bottle is one container); use a devcontainer.json with "image" or "build.dockerfile", or name the service's image in the manifest's "image"`);
  }
  const build = isPlainObject(value.build) ? value.build : undefined;
  if (value.build !== undefined && !build) problems.push(`${where}: "build" must be an object such as {"dockerfile": "Dockerfile"}, not ${describeValue(value.build)}`);
  const dockerfileGiven = build?.dockerfile ?? value.dockerFile;
  const image = value.image;
  if (image !== undefined && dockerfileGiven !== undefined) problems.push(`${where}: has both "image" and "build.dockerfile"; keep one`);
  if (image === undefined && dockerfileGiven === undefined && value.dockerComposeFile === undefined) {
    problems.push(`${where}: names no image; give "image" (e.g. "python:3.12-bookworm") or "build": {"dockerfile": "Dockerfile"}`);
  }
  if (image !== undefined) {
    const problem = typeof image === 'string' ? imageRefProblem(image) : `${IMAGE_REF_RULE}, not ${describeValue(image)}`;
    if (problem) problems.push(`${where}: "image": ${problem}`);
    return problems.length ? { problems } : { image: { ref: image as string, ...(features.length ? { features } : {}) } };
  }
  if (dockerfileGiven === undefined) return { problems };
  if (typeof dockerfileGiven !== 'string' || dockerfileGiven === '') return { problems: [...problems, `${where}: "build.dockerfile" must be a path such as "Dockerfile" (relative to the file's folder)`] };
  if (build) {
    for (const k of Object.keys(build)) if (!DEVCONTAINER_BUILD_KEYS.has(k)) problems.push(`${where}: build.${k} is not a devcontainer build key (dockerfile, context, args, target)`);
  }
  const contextGiven = build?.context ?? value.context ?? '.';
  if (typeof contextGiven !== 'string') problems.push(`${where}: "build.context" must be a path such as ".." (relative to the file's folder)`);
  const args: Record<string, string> = {};
  const rawArgs = build?.args;
  if (rawArgs !== undefined) {
    if (!isPlainObject(rawArgs)) problems.push(`${where}: "build.args" must be an object of strings`);
    else {
      for (const [k, val] of Object.entries(rawArgs)) {
        if (typeof val !== 'string') problems.push(`${where}: build.args.${k} must be a string, not ${describeValue(val)}`);
        else if (val.includes('${')) problems.push(`${where}: build.args.${k} uses a variable ("${val}"); bot-bottle does not substitute devcontainer variables: write the value`);
        else args[k] = val;
      }
    }
  }
  const target = build?.target;
  if (target !== undefined && typeof target !== 'string') problems.push(`${where}: "build.target" must be a stage name`);
  if (problems.length) return { problems };
  const dockerfile = path.resolve(dir, dockerfileGiven);
  const context = path.resolve(dir, contextGiven as string);
  const df = kindOf(dockerfile);
  if (df !== 'file') problems.push(`${where}: build.dockerfile ${shown(dockerfile, dockerfileGiven)} ${df === 'missing' ? 'does not exist' : 'is not a file'} (it is read from the devcontainer.json's folder)`);
  if (kindOf(context) !== 'dir') problems.push(`${where}: build.context ${shown(context, contextGiven as string)} is not a directory (it is read from the devcontainer.json's folder)`);
  if (problems.length) return { problems };
  return { image: { build: { dockerfile, context, args, ...(typeof target === 'string' && target ? { target } : {}) }, ...(features.length ? { features } : {}) } };
}

const FEATURE_REGISTRY_FIX = 'install what it provides in the Dockerfile ("build": {"dockerfile": ...}), or keep a copy of the feature in the project (a folder beside devcontainer.json, named "./<folder>"), and remove it from "features"';

/** A feature's option as its install script's variable: upper case, anything but A-Z, 0-9 and _ as _. */
export function featureOptionVar(name: string): string {
  return name.replace(/[^\w]/g, '_').replace(/^[\d_]+/, '').toUpperCase();
}

/** A local feature read from its folder, or the problem with it (a line naming it). */
function localFeature(id: string, given: unknown, devcontainerDir: string, where: string): DevcontainerFeature | string {
  if (!id.startsWith('./') && !id.startsWith('../')) {
    return `${where} cannot be installed: devcontainer features are downloaded from a registry, and bot-bottle builds images without one; ${FEATURE_REGISTRY_FIX}`;
  }
  const dir = path.resolve(devcontainerDir, id);
  if (kindOf(dir) !== 'dir') return `${where}: ${dir} is not a folder (a local feature is a folder with devcontainer-feature.json and install.sh)`;
  if (kindOf(path.join(dir, 'install.sh')) !== 'file') return `${where}: ${dir} has no install.sh`;
  let meta: unknown;
  try {
    meta = parseJsonc(readFileSync(path.join(dir, 'devcontainer-feature.json'), 'utf8'));
  } catch (e) {
    return `${where}: ${path.join(dir, 'devcontainer-feature.json')} cannot be read as JSON: ${(e as Error).message}`;
  }
  if (!isPlainObject(meta)) return `${where}: devcontainer-feature.json must be an object`;
  const declared = isPlainObject(meta.options) ? meta.options : {};
  // A string stands for the "version" option, as the spec says.
  const chosen = typeof given === 'string' ? { version: given } : isPlainObject(given) ? given : given === undefined || given === true ? {} : null;
  if (chosen === null) return `${where}: the options must be an object such as {"version": "1"}, not ${describeValue(given)}`;
  const env: Record<string, string> = {};
  for (const [name, spec] of Object.entries(declared)) {
    const d = isPlainObject(spec) ? spec.default : undefined;
    if (d !== undefined) env[featureOptionVar(name)] = String(d);
  }
  for (const [name, value] of Object.entries(chosen)) {
    if (!['string', 'boolean', 'number'].includes(typeof value)) return `${where}: option ${name} must be a string, a number or true/false, not ${describeValue(value)}`;
    if (/[\r\n\0]/.test(String(value))) return `${where}: option ${name} must be one line`;
    if (!Object.hasOwn(declared, name)) return `${where}: option ${JSON.stringify(name)} is not one of the feature's options (${Object.keys(declared).join(', ') || 'it has none'})`;
    env[featureOptionVar(name)] = String(value);
  }
  // The user the bottle's agent runs as, as a devcontainer tool tells a feature its remote user.
  Object.assign(env, { _REMOTE_USER: 'node', _REMOTE_USER_HOME: '/home/node', _CONTAINER_USER: 'root', _CONTAINER_USER_HOME: '/root' });
  const containerEnv: Record<string, string> = {};
  if (isPlainObject(meta.containerEnv)) {
    for (const [k, v] of Object.entries(meta.containerEnv)) {
      if (typeof v !== 'string' || /[\r\n\0]/.test(v) || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) return `${where}: containerEnv.${k} must be a one-line string under a variable name`;
      containerEnv[k] = v;
    }
  }
  return { id, dir, env, containerEnv };
}

/**
 * JSON with comments and trailing commas, as devcontainer.json is written (VS Code's JSONC): `//`
 * and block comments outside strings are blanked, a comma before `}` or `]` is dropped, then
 * JSON.parse reads it (so its positions still match the file).
 */
export function parseJsonc(text: string): unknown {
  let out = '';
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i]!;
    if (c === '"') {
      let j = i + 1;
      while (j < n && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
    } else if (c === '/' && text[i + 1] === '/') {
      let j = i;
      while (j < n && text[j] !== '\n') j++;
      out += ' '.repeat(j - i);
      i = j;
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      const j = end < 0 ? n : end + 2;
      out += text.slice(i, j).replace(/[^\n]/g, ' ');
      i = j;
    } else if (c === ',') {
      let j = i + 1;
      // Look past blanks and comments for the next real character.
      for (;;) {
        while (j < n && /\s/.test(text[j]!)) j++;
        if (text[j] === '/' && text[j + 1] === '/') while (j < n && text[j] !== '\n') j++;
        else if (text[j] === '/' && text[j + 1] === '*') j = text.indexOf('*/', j + 2) < 0 ? n : text.indexOf('*/', j + 2) + 2;
        else break;
      }
      out += text[j] === '}' || text[j] === ']' ? ' ' : ',';
      i++;
    } else {
      out += c;
      i++;
    }
  }
  return JSON.parse(out);
}
