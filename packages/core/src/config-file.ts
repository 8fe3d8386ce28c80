/**
 * A service's JSON config file, read one way by each of the bundle's services: the file, JSON,
 * then the service's valibot schema; anything wrong is one ServiceError naming the file and each
 * problem by its JSON path (`upstreams[0].name: ...`), with the service's own hint on the format.
 */
import { readFile } from 'node:fs/promises';
import * as v from 'valibot';
import { formatPath } from './manifest/describe.js';
import { ServiceError } from './service-error.js';

/** What a service says about its config file in its errors. */
export interface ConfigFileSpec {
  /** The service's name as its messages start ("egress gateway", "git-gate"). */
  service: string;
  /** The format in one line, and where it is documented: the fix for a config that is not valid. */
  formatHint: string;
  /** The env var that names the file, for the fix when it cannot be read. */
  envVar?: string;
}

/** valibot issues as `path.to.key: message` lines; `prefix` is put before each path (e.g. `routes`). */
export function issueLines(issues: readonly v.BaseIssue<unknown>[], prefix: readonly (string | number)[] = []): string[] {
  return issues.map((i) => `${formatPath([...prefix, ...(i.path ?? []).map((p) => p.key as string | number)])}: ${i.message}`);
}

/** The error for a config (from `source`: a file, or a part of one) that is not valid. */
export function invalidConfig(spec: ConfigFileSpec, source: string, details: readonly string[], suggestions: readonly string[] = [spec.formatHint]): ServiceError {
  return new ServiceError(`${spec.service} config ${source} is not valid`, { kind: 'config', details, suggestions });
}

/** Checks a value against `schema`; throws `invalidConfig` naming each problem. */
export function parseConfig<S extends v.GenericSchema>(spec: ConfigFileSpec, schema: S, value: unknown, source: string): v.InferOutput<S> {
  const r = v.safeParse(schema, value);
  if (!r.success) throw invalidConfig(spec, source, issueLines(r.issues));
  return r.output;
}

/** Reads `file` and parses its JSON, with the errors of `readConfigFile`. */
export async function readJsonConfig(spec: ConfigFileSpec, file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new ServiceError(`${spec.service}: cannot read its config ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, {
      kind: 'config',
      suggestions: [`Pass the config path as the first argument${spec.envVar ? ` or in ${spec.envVar}` : ''}.`],
    });
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw invalidConfig(spec, file, [`(top level): not JSON: ${(e as Error).message}`]);
  }
}

/** Reads `file`, parses its JSON and checks it against `schema`. */
export async function readConfigFile<S extends v.GenericSchema>(spec: ConfigFileSpec, schema: S, file: string): Promise<v.InferOutput<S>> {
  return parseConfig(spec, schema, await readJsonConfig(spec, file), file);
}
