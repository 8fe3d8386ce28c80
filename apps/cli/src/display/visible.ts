/**
 * The one escaping of the CLI. Text that is not the CLI's own — what an agent asked for, what a
 * bottle sent and a service logged, a request file from the bundle — reaches a person's terminal
 * only through `visible` (or `jsonText` under --json), so that it cannot drive the terminal, hide
 * text, or pass for other text: what a person approves is exactly what is shown.
 *
 * Escaped, as `\u{XXXX}`: every character of the general categories Cc (controls), Cf (format:
 * zero-width, bidi marks and overrides, BOM, soft hyphen, tag characters), Zl and Zp (line and
 * paragraph separators), Co (private use), Cn (unassigned), Cs (lone surrogates); every
 * default-ignorable code point and variation selector (the Hangul fillers U+115F, U+1160, U+3164,
 * U+FFA0 among them); the braille blank U+2800; every space but U+0020 (Zs: no-break, en, em,
 * ideographic...). The backslash itself is written `\\`, so an escape in the output always means
 * one character of the input, never text that looks like an escape.
 */
import { domainToASCII, domainToUnicode } from 'node:url';

/** Characters shown as escapes (a backslash, or one not plainly visible). */
const HIDDEN =
  /\\|[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Co}\p{Cn}\p{Cs}\p{Default_Ignorable_Code_Point}\p{Variation_Selector}\u115F\u1160\u3164\uFFA0\u2800]|(?! )\p{Zs}/gu;

/** Raw in JSON.stringify's text though not visible: the same characters but the JSON's own. */
const HIDDEN_IN_JSON =
  /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Co}\p{Cn}\p{Cs}\p{Default_Ignorable_Code_Point}\p{Variation_Selector}\u115F\u1160\u3164\uFFA0\u2800]|(?! )\p{Zs}/gu;

function escape(c: string): string {
  if (c === '\\') return '\\\\';
  return `\\u{${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}}`;
}

/** `text` with every character that is not plainly visible (and the backslash) escaped. */
export function visible(text: string): string {
  return text.replace(HIDDEN, escape);
}

/** `text` in double quotes, escaped, a quote in it as `\"`: where it starts and ends shows (a trailing space, an empty value). */
export function quoted(text: string): string {
  return `"${visible(text).replace(/"/g, '\\"')}"`;
}

/**
 * JSON text of `value` (as JSON.stringify writes it) with each character that is not plainly
 * visible written as a JSON `\uXXXX` escape: JSON.stringify leaves U+2028, U+2029, U+007F-U+009F,
 * zero-width and bidi characters and the rest raw. Outside strings JSON has only its own
 * punctuation and whitespace, and a string's own newlines and tabs are already escaped, so the
 * raw newlines left are the layout's; the text parses to the same value.
 */
export function jsonText(value: unknown, indent?: number): string {
  const text = JSON.stringify(value, null, indent) ?? 'null';
  return text.replace(HIDDEN_IN_JSON, (c) => {
    if (c === '\n') return c;
    let out = '';
    for (let i = 0; i < c.length; i++) out += `\\u${c.charCodeAt(i).toString(16).padStart(4, '0')}`;
    return out;
  });
}

/**
 * Scripts a label of a host name can be written in. A letter of none of them counts as "another
 * script"; digits, "-" and marks (Common, Inherited) count as none.
 */
const SCRIPTS = [
  'Latin', 'Cyrillic', 'Greek', 'Armenian', 'Georgian', 'Hebrew', 'Arabic', 'Syriac', 'Thaana', 'Nko', 'Devanagari', 'Bengali',
  'Gurmukhi', 'Gujarati', 'Oriya', 'Tamil', 'Telugu', 'Kannada', 'Malayalam', 'Sinhala', 'Thai', 'Lao', 'Tibetan', 'Myanmar',
  'Khmer', 'Mongolian', 'Ethiopic', 'Cherokee', 'Canadian_Aboriginal', 'Tifinagh', 'Coptic', 'Han', 'Hiragana', 'Katakana',
  'Bopomofo', 'Hangul', 'Yi', 'Vai', 'Runic', 'Ogham',
] as const;
const SCRIPT_PATTERNS = SCRIPTS.map((name) => [name, new RegExp(`\\p{Script=${name}}`, 'u')] as const);

/** Mixes that one language writes (Unicode TS #39, "highly restrictive"): not flagged. */
const USUAL_MIXES = [
  ['Latin', 'Han', 'Hiragana', 'Katakana'],
  ['Latin', 'Han', 'Bopomofo'],
  ['Latin', 'Han', 'Hangul'],
];

/** The scripts of the letters of `text`, in order of first use. */
export function scriptsOf(text: string): string[] {
  const found = new Set<string>();
  for (const c of text) {
    if (!/\p{L}/u.test(c)) continue;
    found.add(SCRIPT_PATTERNS.find(([, re]) => re.test(c))?.[0] ?? 'another script');
  }
  return [...found];
}

function unusualMix(scripts: readonly string[]): boolean {
  return scripts.length > 1 && !USUAL_MIXES.some((mix) => scripts.every((s) => mix.includes(s)));
}

const and = (xs: readonly string[]) => (xs.length <= 1 ? xs.join('') : `${xs.slice(0, -1).join(', ')} and ${xs.at(-1)}`);

/** The punycode and Unicode forms of an internationalized host (raw, unescaped), or null for a plain one. */
export function hostForms(host: string): { wildcard: string; ascii: string; unicode: string } | null {
  const wildcard = host.startsWith('*.') ? '*.' : '';
  const bare = host.slice(wildcard.length);
  const ascii = domainToASCII(bare) || bare;
  const unicode = domainToUnicode(ascii) || ascii;
  return unicode === ascii && ascii === bare ? null : { wildcard, ascii, unicode };
}

/** The Unicode form of an internationalized host (raw: for JSON), or null. */
export function hostUnicode(host: string): string | null {
  const forms = hostForms(host);
  return forms ? forms.wildcard + forms.unicode : null;
}

export interface HostView {
  /** The name as the gateway matches it (punycode for an IDN), escaped. */
  ascii: string;
  /** The Unicode form of an IDN (escaped), or null when the name has no xn-- label. */
  unicode: string | null;
  /** What a person should know: scripts mixed in a label, or across the labels. */
  notes: string[];
}

/**
 * A host for a person: the name as matched, the Unicode form when it is an internationalized name,
 * and a note when a label mixes scripts (Latin "a" beside Cyrillic "р") or the labels do.
 */
export function hostView(host: string): HostView {
  const forms = hostForms(host);
  if (!forms) return { ascii: visible(host), unicode: null, notes: [] };
  const { wildcard, ascii, unicode } = forms;
  const notes: string[] = [];
  const labels = unicode.split('.');
  for (const label of labels) {
    const scripts = scriptsOf(label);
    if (unusualMix(scripts)) notes.push(`the label ${quoted(label)} mixes ${and(scripts)} letters: it may be made to look like another name`);
  }
  const all = scriptsOf(unicode);
  if (!notes.length && unusualMix(all)) {
    const by = all.map((s) => `${s} (${labels.filter((l) => scriptsOf(l).includes(s)).map(quoted).join(', ')})`);
    notes.push(`its labels mix scripts, ${and(by)}: it may be made to look like another name`);
  }
  return { ascii: visible(wildcard + ascii), unicode: visible(wildcard + unicode), notes };
}

/** A host on one line: `xn--pple-43d.com (Unicode: аpple.com)`, or the name alone when it is plain ASCII. */
export function hostText(host: string): string {
  const h = hostView(host);
  return h.unicode === null ? h.ascii : `${h.ascii} (Unicode: ${h.unicode})`;
}
