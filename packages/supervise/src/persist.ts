/**
 * `--persist`: an approved route added to the manifest it came from, with jsonc-parser's edit API,
 * so the rest of the file (order, indentation, spacing, line ends, and comments if the manifest
 * format ever takes them: today it is strict JSON) stays as the person wrote it. The edited text
 * is validated as a manifest before anything is written.
 */
import { readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { applyEdits, findNodeAtLocation, getNodeValue, modify, parseTree, type FormattingOptions } from 'jsonc-parser';
import { BottleError, EXIT_USAGE, parseManifestText, type EgressRoute } from '@bot-bottle/core';
import { writeFileAtomic } from './queue.js';

/** The file's own indentation and line ends, so the inserted lines look like the rest. */
export function detectFormatting(text: string): FormattingOptions {
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  const indent = /^([ \t]+)\S/m.exec(text)?.[1] ?? '  ';
  return indent.startsWith('\t') ? { insertSpaces: false, tabSize: 1, eol } : { insertSpaces: true, tabSize: indent.length, eol };
}

/** `{ "host": "a.example.com", "methods": ["GET"] }`: a route on one line, spaced like hand-written JSON. */
function oneLine(x: unknown): string {
  if (Array.isArray(x)) return `[${x.map(oneLine).join(', ')}]`;
  if (typeof x === 'object' && x !== null) return `{ ${Object.entries(x).map(([k, v]) => `${JSON.stringify(k)}: ${oneLine(v)}`).join(', ')} }`;
  return JSON.stringify(x);
}

function sameRoute(a: unknown, b: EgressRoute): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * The text with `route` appended to `bottles.<bottle>.egress.routes` (made when missing), every
 * other byte as it was (comments too, where a file has them); null when the bottle already has
 * that route.
 */
export function editManifestText(text: string, bottle: string, route: EgressRoute, source: string): string | null {
  const tree = parseTree(text, [], { allowTrailingComma: true, disallowComments: false });
  if (!tree || !findNodeAtLocation(tree, ['bottles', bottle])) {
    throw new BottleError('MANIFEST_INVALID', `${source} no longer defines bottle "${bottle}", so the route cannot be added to it`, {
      suggestions: [`Add the route to the manifest by hand: {"host": "${route.host}", ...} under bottles.<name>.egress.routes.`],
      exit: EXIT_USAGE,
    });
  }
  const routes = findNodeAtLocation(tree, ['bottles', bottle, 'egress', 'routes']);
  if (routes?.type === 'array' && (getNodeValue(routes) as unknown[]).some((r) => sameRoute(r, route))) return null;
  const last = routes?.type === 'array' ? routes.children?.at(-1) : undefined;
  if (!last) {
    // No route yet: jsonc-parser makes the array (and egress) where they belong, formatted like the file.
    return applyEdits(text, modify(text, ['bottles', bottle, 'egress', 'routes', -1], route, { formattingOptions: detectFormatting(text) }));
  }
  // After the last route, like it: on a line of its own at the same indentation when it has one,
  // else on the same line. (jsonc-parser's formatter would also re-lay the route before it.)
  const end = last.offset + last.length;
  const lineStart = text.lastIndexOf('\n', last.offset) + 1;
  const lead = text.slice(lineStart, last.offset);
  const item = oneLine(route);
  if (!/^[ \t]*$/.test(lead)) return `${text.slice(0, end)}, ${item}${text.slice(end)}`;
  const eol = detectFormatting(text).eol;
  // A comment after the last route stays on its line.
  const lineEnd = text.indexOf('\n', end) < 0 ? text.length : text.indexOf('\n', end) - (text[text.indexOf('\n', end) - 1] === '\r' ? 1 : 0);
  const rest = text.slice(end, lineEnd);
  const at = /^\s*(\/\/.*|\/\*.*\*\/\s*)?$/.test(rest) ? lineEnd : end;
  return `${text.slice(0, end)},${text.slice(end, at)}${eol}${lead}${item}${text.slice(at)}`;
}

/**
 * `editManifestText`, then the whole result checked as `bottle validate` would: a file that would
 * stop validating is never written.
 */
export async function addRouteToManifestText(text: string, bottle: string, route: EgressRoute, source: string): Promise<string | null> {
  const next = editManifestText(text, bottle, route, source);
  if (next !== null) await parseManifestText(next, source, path.dirname(source));
  return next;
}

export interface ManifestEdit {
  /** The file written (a symlinked manifest is edited where it really is). */
  file: string;
  text: string;
  mode: number;
}

/**
 * The manifest with the route added, checked but not written; null when the bottle has the route
 * already. Done before the live change, so that a manifest that cannot take the route stops the
 * approval before anything changed.
 */
export async function prepareManifestEdit(manifestPath: string, bottle: string, route: EgressRoute): Promise<ManifestEdit | null> {
  const file = await realpath(manifestPath).catch(() => manifestPath);
  const text = await readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => {
    throw new BottleError('MANIFEST_UNREADABLE', `cannot read the manifest ${manifestPath} to add the route (${e.code ?? e.message})`, {
      suggestions: ['Approve without --persist, or make the manifest readable and writable.'],
      exit: EXIT_USAGE,
    });
  });
  const next = await addRouteToManifestText(text, bottle, route, manifestPath);
  if (next === null) return null;
  return { file, text: next, mode: (await stat(file)).mode & 0o777 };
}

export async function writeManifestEdit(edit: ManifestEdit): Promise<void> {
  await writeFileAtomic(path.dirname(edit.file), path.basename(edit.file), edit.text, edit.mode).catch((e: NodeJS.ErrnoException) => {
    throw new BottleError('MANIFEST_UNWRITABLE', `cannot write the manifest ${edit.file} (${e.code ?? e.message})`, {
      suggestions: [`Make ${path.dirname(edit.file)} writable, or add the route by hand.`],
    });
  });
}

/** Adds the route to the manifest file; returns false when it was there already. */
export async function persistRoute(manifestPath: string, bottle: string, route: EgressRoute): Promise<boolean> {
  const edit = await prepareManifestEdit(manifestPath, bottle, route);
  if (edit) await writeManifestEdit(edit);
  return edit !== null;
}
