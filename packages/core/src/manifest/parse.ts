/** JSON text to a value, strictly (no comments, trailing commas or repeated keys), with line and column in errors. */
import { printParseErrorCode, visit as visitJson, type ParseError } from 'jsonc-parser';
import { BottleError, EXIT_USAGE } from '../errors.js';
import { formatPath } from './describe.js';

/** A manifest larger than this is refused before parsing (a manifest is a few KiB). */
export const MANIFEST_MAX_BYTES = 1024 * 1024;
/** Nesting deeper than this is refused before parsing; the schema itself is at most 6 deep. */
export const MANIFEST_MAX_DEPTH = 64;

function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let col = 1;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text[i] === '\n') {
      line++;
      col = 1;
    } else col++;
  }
  return { line, column: col };
}

/** Deepest bracket nesting outside strings, computed without recursion. */
function nestingDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') max = Math.max(max, ++depth);
    else if (c === '}' || c === ']') depth--;
  }
  return max;
}

const PARSE_ERROR_WORDS: Record<string, string> = {
  InvalidSymbol: 'unexpected character',
  InvalidNumberFormat: 'invalid number',
  PropertyNameExpected: 'expected a key in double quotes',
  ValueExpected: 'expected a value',
  ColonExpected: 'expected ":" after the key',
  CommaExpected: 'expected "," between entries',
  CloseBraceExpected: 'expected "}" to close the object',
  CloseBracketExpected: 'expected "]" to close the array',
  EndOfFileExpected: 'unexpected text after the end of the JSON value',
  InvalidCommentToken: 'comments are not allowed in JSON; remove the comment',
  UnexpectedEndOfComment: 'unterminated comment (comments are not allowed in JSON)',
  UnexpectedEndOfString: 'unterminated string (a string must close on the line it starts; write a line break as \\n)',
  UnexpectedEndOfNumber: 'incomplete number',
  InvalidUnicode: 'invalid \\u escape',
  InvalidEscapeCharacter: 'invalid escape in a string (write a backslash as \\\\)',
  InvalidCharacter: 'control character in a string (write a tab as \\t, a line break as \\n)',
};

/** One readable sentence for the first JSON syntax error (the later ones are its echoes). */
function describeParseError(text: string, e: ParseError): string {
  const at = text[e.offset];
  if ((at === '}' || at === ']') && /,\s*$/.test(text.slice(0, e.offset))) {
    return `trailing comma before "${at}"; remove the ","`;
  }
  const code = printParseErrorCode(e.error);
  if (code === 'InvalidSymbol') {
    const token = text.slice(e.offset, e.offset + Math.max(1, e.length));
    if (token.startsWith("'")) return 'strings and keys need double quotes, not single quotes';
    return `unexpected ${JSON.stringify(token.length > 20 ? `${token.slice(0, 20)}...` : token)}`;
  }
  return PARSE_ERROR_WORDS[code] ?? code;
}

/** Parses JSON text strictly (no comments, no trailing commas, no duplicate keys), reporting line and column. */
export function parseJsonText(text: string, source: string): unknown {
  const size = Buffer.byteLength(text);
  if (size > MANIFEST_MAX_BYTES) {
    throw new BottleError('MANIFEST_INVALID', `${source}: the manifest is ${(size / 1048576).toFixed(1)} MiB; the limit is 1 MiB`, {
      details: [`(top level): ${size} bytes is more than ${MANIFEST_MAX_BYTES}`],
      suggestions: ['A manifest holds names and settings only; keep prompts and skills in files beside it.'],
      exit: EXIT_USAGE,
    });
  }
  // An editor's byte-order mark is not part of the JSON.
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  if (body.trim() === '') {
    throw new BottleError('MANIFEST_INVALID_JSON', `${source} is empty`, {
      details: ['line 1, column 1: expected a JSON object with "bottles" and "agents"'],
      suggestions: ['Run `bottle init` for a starter manifest.'],
      exit: EXIT_USAGE,
    });
  }
  // The parser below recurses per level; measure the depth first, without recursion.
  const depth = nestingDepth(body);
  if (depth > MANIFEST_MAX_DEPTH) {
    throw new BottleError('MANIFEST_INVALID', `${source}: the manifest nests ${depth} levels deep; the limit is ${MANIFEST_MAX_DEPTH}`, {
      details: [`(top level): nesting of ${depth} levels is more than ${MANIFEST_MAX_DEPTH}`],
      suggestions: ['Check the file: a bot-bottle manifest is at most 7 levels deep.'],
      exit: EXIT_USAGE,
    });
  }
  const errors: ParseError[] = [];
  const duplicates: string[] = [];
  const keysStack: Set<string>[] = [];
  visitJson(
    body,
    {
      onObjectBegin: () => {
        keysStack.push(new Set());
      },
      onObjectEnd: () => {
        keysStack.pop();
      },
      onObjectProperty: (key, offset, _length, startLine, startCharacter, pathSupplier) => {
        const keys = keysStack[keysStack.length - 1];
        if (!keys) return;
        if (keys.has(key)) {
          duplicates.push(`${formatPath([...pathSupplier(), key])}: key ${JSON.stringify(key)} appears twice in one object (again at line ${startLine + 1}, column ${startCharacter + 1}); keep one`);
        }
        keys.add(key);
        void offset;
      },
      onError: (error, offset, length) => {
        errors.push({ error, offset, length });
      },
    },
    { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false },
  );
  if (errors.length > 0) {
    const first = errors[0]!;
    const { line, column } = lineColumn(body, first.offset);
    throw new BottleError('MANIFEST_INVALID_JSON', `${source} is not valid JSON`, {
      details: [`line ${line}, column ${column}: ${describeParseError(body, first)}`],
      suggestions: ['Fix the JSON at the line and column shown (comments and trailing commas are not allowed).'],
      exit: EXIT_USAGE,
    });
  }
  let value: unknown;
  try {
    // JSON.parse builds the value: it keeps a "__proto__" key as data instead of a prototype.
    value = JSON.parse(body);
  } catch (e) {
    throw new BottleError('MANIFEST_INVALID_JSON', `${source} is not valid JSON`, {
      details: [(e as Error).message],
      suggestions: ['Fix the JSON at the place shown.'],
      exit: EXIT_USAGE,
    });
  }
  if (duplicates.length) {
    throw new BottleError('MANIFEST_INVALID', `${source} is not a valid manifest`, {
      details: duplicates,
      suggestions: ['A repeated key silently replaces the first one; keep one of them.'],
      exit: EXIT_USAGE,
    });
  }
  return value;
}
