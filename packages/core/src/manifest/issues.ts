/** valibot issues turned into `path.to.key: message` lines, with "did you mean" hints for unknown keys. */
import type * as v from 'valibot';
import { editDistance } from '../edit-distance.js';
import { describeValue, formatPath } from './describe.js';
import {
  AgentEntries,
  BottleEntries,
  EgressEntries,
  GitEntryEntries,
  GitUserEntries,
  ImageEntries,
  LimitsEntries,
  ManifestEntries,
  PROVISIONER_REF_RULE,
  ProvisionerRefEntries,
  RouteAuthEntries,
  RouteEntries,
  SuperviseEntries,
  isPlainObject,
} from './schema.js';

/** The keys allowed at a path of the manifest, for "did you mean" hints on unknown keys. */
function knownKeysAt(segs: readonly (string | number)[]): string[] {
  const shape = segs.map((s) => (typeof s === 'number' ? '[]' : s));
  const [a, , c, d, , f] = shape;
  const n = shape.length;
  if (n === 0) return Object.keys(ManifestEntries);
  if (a === 'bottles') {
    if (n === 2) return Object.keys(BottleEntries);
    if (n === 4 && c === 'git') return Object.keys(GitEntryEntries);
    if (n === 3 && c === 'git_user') return Object.keys(GitUserEntries);
    if (n === 3 && c === 'egress') return Object.keys(EgressEntries);
    if (n === 3 && c === 'limits') return Object.keys(LimitsEntries);
    if (n === 3 && c === 'image') return Object.keys(ImageEntries);
    if (n === 3 && c === 'supervise') return Object.keys(SuperviseEntries);
    if (n === 5 && c === 'egress' && d === 'routes') return Object.keys(RouteEntries);
    if (n === 6 && c === 'egress' && d === 'routes' && f === 'auth') return Object.keys(RouteAuthEntries);
  }
  if (a === 'agents') {
    if (n === 2) return Object.keys(AgentEntries);
    if (n === 4 && c === 'provisioners') return Object.keys(ProvisionerRefEntries);
  }
  return [];
}

/** True when every character of `short` appears in `long` in order ("opts" in "options"). */
function isSubsequence(short: string, long: string): boolean {
  let i = 0;
  for (const c of long) if (c === short[i]) i++;
  return i === short.length;
}

function unknownKeyMessage(key: string, known: readonly string[]): string {
  const lower = key.toLowerCase();
  const near =
    known.find((k) => k.toLowerCase() === lower) ??
    known.find((k) => editDistance(k.toLowerCase(), lower) <= 2) ??
    known.find((k) => lower.length >= 3 && (isSubsequence(lower, k.toLowerCase()) || lower.startsWith(k.toLowerCase())));
  const hint = near ? `did you mean "${near}"? ` : '';
  const allowed = known.length ? ` (allowed here: ${known.join(', ')})` : '';
  return `unknown key ${JSON.stringify(key)}; ${hint}remove it or fix its spelling${allowed}`;
}

const EXPECTED_WORDS: Record<string, string> = {
  Object: 'an object',
  Array: 'an array',
  string: 'a string',
  boolean: 'true or false',
  number: 'a number',
};

function describeExpected(expected: string | null): string {
  if (expected === null) return 'something else';
  if (EXPECTED_WORDS[expected]) return EXPECTED_WORDS[expected];
  const choices = /^\((.*)\)$/.exec(expected);
  if (choices) return `one of ${choices[1]!.split(' | ').join(', ')}`;
  return expected;
}

/** The branches of a union that take a plain value: their issue says nothing about an object given. */
const PRIMITIVE_TYPES = new Set(['string', 'boolean', 'number']);

export function issueLines(issues: readonly v.BaseIssue<unknown>[], prefix: readonly (string | number)[] = []): string[] {
  const lines: string[] = [];
  for (const issue of issues) {
    const segs = [...prefix, ...(issue.path ?? []).map((p) => p.key as string | number)];
    const where = formatPath(segs);
    // valibot's own messages start with "Invalid"; ours (from schema.ts) are kept as written.
    const generic = issue.message.startsWith('Invalid ');
    let message = issue.message;
    if (issue.type === 'union' && issue.issues?.length) {
      // A union reports every branch; only the branch for the kind of value given is useful.
      // valibot returns a typed branch's issues directly, so here no branch took the value: for
      // an object, the object branch's issues say what is wrong; for anything else, the rule does.
      if (isPlainObject(issue.input)) {
        const objectBranch = issue.issues.filter((i) => (i.path?.length ?? 0) > 0 || !PRIMITIVE_TYPES.has(i.type));
        if (objectBranch.length) {
          lines.push(...issueLines(objectBranch, segs));
          continue;
        }
      }
      // The union's own message is its rule (a provisioner reference, the supervise key).
      message = `${generic ? PROVISIONER_REF_RULE : issue.message}, not ${describeValue(issue.input)}`;
      if ((issue.input === 'true' || issue.input === 'false') && issue.issues.some((i) => i.expected === 'boolean')) message += '; write it without quotes';
    } else if (issue.kind === 'schema' && issue.type === 'strict_object' && issue.expected === 'never') {
      message = unknownKeyMessage(String(segs[segs.length - 1]), knownKeysAt(segs.slice(0, -1)));
    } else if (issue.kind === 'schema' && issue.input === undefined && generic) {
      message = 'missing; it is required';
    } else if (issue.kind === 'schema' && generic) {
      message = `expected ${describeExpected(issue.expected)} but got ${describeValue(issue.input)}`;
      if (issue.expected === 'boolean' && (issue.input === 'true' || issue.input === 'false')) message += '; write it without quotes';
    }
    lines.push(`${where}: ${message}`);
  }
  return [...new Set(lines)];
}
