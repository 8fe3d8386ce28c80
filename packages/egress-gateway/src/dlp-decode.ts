/**
 * Secrets sent base64- or hex-encoded: finds the runs of a text that could be base64 or hex and
 * hands what they decode to, at every alignment, to the caller's patterns (dlp.ts), so a GitHub
 * token base64'd into a body is seen as a GitHub token.
 *
 * A run may start before the text does (a streaming window cuts it), and the bytes a token sits in
 * may start anywhere in it, so a base64 run is decoded from each of its first four characters (the
 * four ways its characters can fall into groups of four) and a hex run from each of its first two;
 * where the token lies within the decoded bytes is the pattern's business. Runs shorter than the
 * shortest token are skipped, mostly without a look at their characters, and short runs that could
 * not decode to that many ASCII bytes in a row are not decoded, so plain text costs little. The
 * decoding is Node's own, native: all the runs of a text are decoded together, one decode per
 * alignment (a text of short runs, such as ids and paths in JSON, would otherwise pay a handful of
 * native calls for each), with bytes that no pattern matches (0xff) between them, so no match
 * spans two runs. Linear in the text: the only regexes over the encoded text are character classes.
 */

export type Encoding = 'base64' | 'hex';

/**
 * Decoded bytes a run must be able to hold to be decoded: a little under the shortest match of a
 * token pattern (Slack's, 15). The unarmoured key prefixes are shorter, but the key body around
 * them is long; injected values shorter than this are found by their encoded forms.
 */
export const MIN_DECODED_TOKEN = 14;
/** The longest decoded match the streaming window promises to hold whole (a JWT's prefix is up to 79). */
export const MAX_DECODED_TOKEN = 80;
/**
 * Line breaks are skipped inside a run (`base64` wraps at 76 columns, PEM at 64, JSON escapes them):
 * `\n`, `\r\n`, and the JSON escapes `\n`, `\r\n` (two and four characters). The longest of them.
 */
const MAX_LINE_BREAK = 4;
/**
 * How many characters of text a token of MAX_DECODED_TOKEN bytes can span encoded: hex (two
 * characters a byte) with a line break of the longest kind between every two characters.
 */
export const MAX_ENCODED_TOKEN_SPAN = 2 * MAX_DECODED_TOKEN * (1 + MAX_LINE_BREAK);

/** The fewest base64 characters that hold MIN_DECODED_TOKEN bytes (at the best alignment). */
const MIN_BASE64_RUN = Math.ceil((MIN_DECODED_TOKEN * 4) / 3);
const MIN_HEX_RUN = 2 * MIN_DECODED_TOKEN;

const STANDARD_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const URL_SAFE_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
/** Per character code: its base64 value (either alphabet), or -1. */
const B64_VALUE = new Int8Array(256).fill(-1);
/** Characters of a run: both base64 alphabets, and what line breaks and `\/` are made of. */
const RUN_CHAR = new Uint8Array(256);
const RUN_REST = /[A-Za-z0-9+/_\-\r\n\\]*/y;
const HEX_CHAR = new Uint8Array(256);
const HEX_REST = /[0-9a-fA-F]*/y;
{
  for (let v = 0; v < 64; v++) {
    B64_VALUE[STANDARD_ALPHABET.charCodeAt(v)] = v;
    B64_VALUE[URL_SAFE_ALPHABET.charCodeAt(v)] = v;
  }
  for (let c = 0; c < 256; c++) if (B64_VALUE[c]! >= 0) RUN_CHAR[c] = 1;
  for (const c of '\r\n\\') RUN_CHAR[c.charCodeAt(0)] = 1;
  for (const c of '0123456789abcdefABCDEF') HEX_CHAR[c.charCodeAt(0)] = 1;
}
/**
 * Per character code, for the check of short runs: bit p set when the character, at position p of
 * a group of four, leaves the top bit of the byte it starts clear (bit 5, 3, 1 of its value: the
 * top bits of a group's bytes 0, 1, 2).
 */
const CLEARS_TOP_BIT = new Uint8Array(256);
for (let c = 0; c < 256; c++) {
  const v = B64_VALUE[c]!;
  if (v >= 0) CLEARS_TOP_BIT[c] = (v & 32 ? 0 : 1) | (v & 8 ? 0 : 2) | (v & 2 ? 0 : 4);
}
/** Whole groups of three bytes that MIN_DECODED_TOKEN bytes always contain, wherever they start. */
const MIN_ASCII_GROUPS = Math.floor((MIN_DECODED_TOKEN - 2) / 3);
/** Runs up to this long are checked before they are decoded; longer ones cost less decoded than checked. */
const CHECK_UP_TO = 256;

/**
 * Whether `run` could decode to MIN_DECODED_TOKEN bytes of ASCII in a row at some alignment: that
 * needs MIN_ASCII_GROUPS whole groups in a row whose bytes all have the top bit clear, and a run of
 * random characters has such a stretch at one of its alignments rarely (1 in 8 per group). Every
 * token format is ASCII (and so are the injected values it matters for: their unwrapped base64 is
 * a needle anyway). Most short runs of ordinary text and ids fail it, and are not decoded.
 */
function mayHoldAscii(run: string): boolean {
  for (let a = 0; a < 4; a++) {
    let groups = 0;
    for (let g = a; g + 4 <= run.length; g += 4) {
      const ok = CLEARS_TOP_BIT[run.charCodeAt(g)]! & 1 && CLEARS_TOP_BIT[run.charCodeAt(g + 1)]! & 2 && CLEARS_TOP_BIT[run.charCodeAt(g + 2)]! & 4;
      groups = ok ? groups + 1 : 0;
      if (groups >= MIN_ASCII_GROUPS) return true;
    }
  }
  return false;
}

/** What a run's raw text holds that is no base64 character: line breaks, their JSON escapes, the `\` of `\/`. */
const SKIPPED = /[\r\n]|\\[nr]|\\(?=\/)/g;
const HAS_SKIPPED = /[\r\n\\]/;
const URL_SAFE = /[-_]/;
const STANDARD = /[+/]/;

/**
 * Calls `visit(from, to)` for every maximal run of `table`'s characters in `text` that is at least
 * `min` long (`rest`: the same class, sticky and starred). A stretch of `min` characters is checked
 * from its end, so a character outside the class skips everything before it: plain text, with
 * short words, is looked at a few characters in every `min`. Each character is looked at no more
 * than twice; the rest of a long run is read by the regex (faster than a loop here).
 */
function eachRun(text: string, table: Uint8Array, rest: RegExp, min: number, visit: (from: number, to: number) => void): void {
  const end = text.length;
  let i = 0;
  while (i + min <= end) {
    let j = i + min - 1;
    while (j >= i) {
      const c = text.charCodeAt(j);
      if (c > 255 || !table[c]) break;
      j--;
    }
    if (j >= i) {
      i = j + 1;
      continue;
    }
    rest.lastIndex = i + min;
    rest.test(text); // matches, if only the empty string: lastIndex is where the run ends
    const to = rest.lastIndex;
    visit(i, to);
    i = to + 1;
  }
}

/**
 * The characters of `run` from `from` on, read in groups of four from there, ending so that the
 * last bytes they decode to are 0xff where the run's own characters do not fill a group: one
 * character left over holds no whole byte and is dropped; of two or three, the low bits that
 * belong to the missing byte are set and the group filled with 63s, so the last byte decodes whole
 * and the padding bytes are 0xff (no pattern matches across them).
 */
function groupsFrom(run: string, from: number, alphabet: string): string {
  const len = run.length - from;
  const whole = from + len - (len & 3);
  const body = from === 0 && whole === run.length ? run : run.slice(from, whole);
  const v = (k: number) => B64_VALUE[run.charCodeAt(k)]!;
  const pad = alphabet[63]!;
  switch (len & 3) {
    case 2:
      return body + run[whole] + alphabet[(v(whole + 1) & 0x30) | 0x0f] + pad + pad;
    case 3:
      return body + run[whole] + run[whole + 1] + alphabet[v(whole + 2) | 3] + pad;
    default:
      return body;
  }
}

/** Where runs are decoded into: kept between calls (a fresh buffer per decode is garbage the GC must sweep). */
let scratch = Buffer.allocUnsafe(64 * 1024);
const KEEP_SCRATCH = 1024 * 1024;

/** `encoded` decoded, as latin1 text. */
function decode(encoded: string, encoding: 'base64' | 'base64url' | 'hex'): string {
  const most = encoding === 'hex' ? encoded.length >> 1 : Math.ceil((encoded.length * 3) / 4);
  let into = scratch;
  if (most > into.length) {
    into = Buffer.allocUnsafe(most);
    if (most <= KEEP_SCRATCH) scratch = into;
  }
  return into.toString('latin1', 0, into.write(encoded, 0, most, encoding));
}

/**
 * Calls `test` on what the base64 runs of `text` decode to, at each of the four alignments (all runs
 * at once, 0xff bytes between them), then on what its hex runs decode to at each of two, and returns
 * the first answer that is not null, with the encoding it was read from. Runs shorter than the
 * shortest token are not decoded.
 */
export function findInDecoded<T>(text: string, test: (decoded: string) => T | null): { found: T; encoding: Encoding } | null {
  if (text.length < MIN_BASE64_RUN) return null;
  const runs: string[] = [];
  const hexRuns: string[] = [];
  let urlSafe = false;
  let standard = false;
  const add = (piece: string) => {
    if (piece.length < MIN_BASE64_RUN) return;
    let allHex = false;
    if (piece.length >= MIN_HEX_RUN) {
      eachRun(piece, HEX_CHAR, HEX_REST, MIN_HEX_RUN, (from, to) => {
        hexRuns.push(from === 0 && to === piece.length ? piece : piece.slice(from, to));
        allHex = from === 0 && to === piece.length;
      });
    }
    // Hex digits are base64 characters too, but no token's base64 is made of them alone: 22 of the
    // 64 values, at every one of a token's 20 or more characters. A run of hex is read as hex only.
    if (allHex) return;
    if (piece.length <= CHECK_UP_TO && !mayHoldAscii(piece)) return;
    runs.push(piece);
    urlSafe ||= URL_SAFE.test(piece);
    standard ||= STANDARD.test(piece);
  };
  eachRun(text, RUN_CHAR, RUN_REST, MIN_BASE64_RUN, (from, to) => {
    const raw = text.slice(from, to);
    if (!HAS_SKIPPED.test(raw)) return add(raw);
    // Other backslashes (JSON's \" \t \\ \u…) end a piece: what follows is read on its own.
    for (const piece of raw.replace(SKIPPED, '').split('\\')) add(piece);
  });

  if (runs.length) {
    // One alphabet decodes natively fast; Node reads a mix of the two too, only more slowly.
    const encoding = urlSafe && !standard ? 'base64url' : 'base64';
    const alphabet = encoding === 'base64url' ? URL_SAFE_ALPHABET : STANDARD_ALPHABET;
    const gap = alphabet[63]!.repeat(4);
    for (let a = 0; a < 4; a++) {
      const batch = runs.length === 1 ? groupsFrom(runs[0]!, a, alphabet) : runs.map((r) => groupsFrom(r, a, alphabet)).join(gap);
      const found = test(decode(batch, encoding));
      if (found !== null) return { found, encoding: 'base64' };
    }
  }
  if (hexRuns.length) {
    for (let h = 0; h < 2; h++) {
      // A lone last digit holds no whole byte: dropped, so "ff" between runs stays a byte of its own.
      const even = (r: string) => r.slice(h, r.length - ((r.length - h) & 1));
      const found = test(decode(hexRuns.length === 1 ? even(hexRuns[0]!) : hexRuns.map(even).join('ff'), 'hex'));
      if (found !== null) return { found, encoding: 'hex' };
    }
  }
  return null;
}
