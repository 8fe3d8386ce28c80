/**
 * One character of each class that is not plainly visible (what the CLI must escape), with the
 * escape `visible` writes for it; shared by the display, logs and supervise tests.
 */
export const HIDDEN_SAMPLES: [string, string, string][] = [
  ['C0 control (ESC)', '\u001b', '\\u{001B}'],
  ['newline', '\n', '\\u{000A}'],
  ['carriage return', '\r', '\\u{000D}'],
  ['tab', '\t', '\\u{0009}'],
  ['DEL', '\u007f', '\\u{007F}'],
  ['C1 control (CSI)', '\u009b', '\\u{009B}'],
  ['line separator', '\u2028', '\\u{2028}'],
  ['paragraph separator', '\u2029', '\\u{2029}'],
  ['zero-width space', '\u200b', '\\u{200B}'],
  ['zero-width joiner', '\u200d', '\\u{200D}'],
  ['word joiner', '\u2060', '\\u{2060}'],
  ['BOM', '\ufeff', '\\u{FEFF}'],
  ['soft hyphen', '\u00ad', '\\u{00AD}'],
  ['left-to-right mark', '\u200e', '\\u{200E}'],
  ['right-to-left override', '\u202e', '\\u{202E}'],
  ['first strong isolate', '\u2068', '\\u{2068}'],
  ['arabic letter mark', '\u061c', '\\u{061C}'],
  ['Hangul choseong filler', '\u115f', '\\u{115F}'],
  ['Hangul jungseong filler', '\u1160', '\\u{1160}'],
  ['Hangul filler', '\u3164', '\\u{3164}'],
  ['halfwidth Hangul filler', '\uffa0', '\\u{FFA0}'],
  ['braille blank', '\u2800', '\\u{2800}'],
  ['tag latin small a', '\u{E0061}', '\\u{E0061}'],
  ['cancel tag', '\u{E007F}', '\\u{E007F}'],
  ['language tag', '\u{E0001}', '\\u{E0001}'],
  ['variation selector 16', '\ufe0f', '\\u{FE0F}'],
  ['variation selector 1', '\ufe00', '\\u{FE00}'],
  ['variation selector 256', '\u{E01EF}', '\\u{E01EF}'],
  ['Mongolian vowel separator', '\u180e', '\\u{180E}'],
  ['combining grapheme joiner', '\u034f', '\\u{034F}'],
  ['no-break space', '\u00a0', '\\u{00A0}'],
  ['en quad', '\u2000', '\\u{2000}'],
  ['hair space', '\u200a', '\\u{200A}'],
  ['narrow no-break space', '\u202f', '\\u{202F}'],
  ['ideographic space', '\u3000', '\\u{3000}'],
  ['private use', '\ue000', '\\u{E000}'],
  ['supplementary private use', '\u{F0000}', '\\u{F0000}'],
  ['unassigned', '\u0378', '\\u{0378}'],
  ['noncharacter', '\uffff', '\\u{FFFF}'],
  ['lone surrogate', '\ud800', '\\u{D800}'],
  ['interlinear annotation anchor', '\ufff9', '\\u{FFF9}'],
  ['shorthand format letter overlap', '\u{1BCA0}', '\\u{1BCA0}'],
];

/** Every sample, between markers, as one string an agent or a bottle could send. */
export const ALL_HIDDEN = HIDDEN_SAMPLES.map(([, c]) => `<${c}>`).join('');
/** How `visible` shows ALL_HIDDEN. */
export const ALL_HIDDEN_SHOWN = HIDDEN_SAMPLES.map(([, , e]) => `<${e}>`).join('');
/** No character of any hidden class but the newline (a regular expression over output). */
export const RAW_HIDDEN = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Co}\p{Cn}\p{Cs}\p{Default_Ignorable_Code_Point}\p{Variation_Selector}\u115F\u1160\u3164\uFFA0\u2800]|(?! )\p{Zs}/u;
