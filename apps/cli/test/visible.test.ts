/**
 * The CLI's one escaping (src/display/visible.ts): every class of character that is not plainly
 * visible comes out as a `\u{XXXX}` escape, the backslash as `\\`, plain text as it was; JSON text
 * stays JSON and parses back to the same value; an internationalized host is shown in both forms,
 * with a note when it mixes scripts.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { hostText, hostUnicode, hostView, jsonText, quoted, scriptsOf, visible } from '../src/display/visible.js';
import { HIDDEN_SAMPLES } from './hidden-samples.js';

const test = suite('visible');


test('each class of character that is not plainly visible is escaped, in context', () => {
  for (const [name, c, escaped] of HIDDEN_SAMPLES) {
    assert.is(visible(`a${c}b`), `a${escaped}b`, name);
  }
});

test('the backslash is escaped too, so an escape in the output always means one hidden character', () => {
  assert.is(visible('\\u{202E}'), '\\\\u{202E}');
  assert.is(visible('a\u202eb'), 'a\\u{202E}b');
  assert.not.equal(visible('\\u{202E}'), visible('\u202e'), 'typed text cannot pass for an escape');
  assert.is(visible('C:\\path'), 'C:\\\\path');
});

test('control: plain text is unchanged, printable ASCII and visible letters of other scripts included', () => {
  let ascii = '';
  for (let c = 0x20; c < 0x7f; c++) if (c !== 0x5c) ascii += String.fromCharCode(c);
  assert.is(visible(ascii), ascii);
  for (const s of ['install the test dependencies', 'registry.npmjs.org', '/v1/messages?beta=true', 'café', 'Größe', 'пример', '例え', 'مثال', '😀', '— “quoted” →']) {
    assert.is(visible(s), s, s);
  }
});

test('quoted: the ends of a value show, and a quote in it cannot close it', () => {
  assert.is(quoted('Bearer {value}'), '"Bearer {value}"');
  assert.is(quoted('{value} '), '"{value} "');
  assert.is(quoted('a"b'), '"a\\"b"');
  assert.is(quoted('x\u2028y'), '"x\\u{2028}y"');
});

test('JSON text: every hidden character is a \\u escape, the text parses back to the same value, the layout is kept', () => {
  const value = { reason: HIDDEN_SAMPLES.map(([, c]) => c).join('|'), plain: 'café ✓', nested: [{ k: 'a\u2028b' }] };
  const raw = JSON.stringify(value, null, 2);
  assert.ok(raw.includes('\u2028'), 'control: JSON.stringify leaves U+2028 raw');
  for (const indent of [undefined, 2]) {
    const text = jsonText(value, indent);
    assert.equal(JSON.parse(text), value);
    // Only the layout's newlines (and spaces) are left among the hidden characters.
    assert.not.match(text.replace(/\n/g, ''), /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Co}\p{Cn}\p{Cs}\p{Default_Ignorable_Code_Point}\u2800]|(?! )\p{Zs}/u);
    assert.match(text, /\\u2028/);
    assert.match(text, /\\udb40\\udc61/, 'a tag character as its UTF-16 escapes');
    assert.ok(text.includes('café ✓'), 'visible text stays as it is');
  }
  assert.is(jsonText({ a: 1, b: ['x'] }, 2), JSON.stringify({ a: 1, b: ['x'] }, null, 2), 'control: plain JSON is unchanged');
});

test('an internationalized host is shown in punycode and Unicode; mixed scripts are noted, in a label or across labels', () => {
  // "аpple.com" with a Cyrillic а.
  const apple = hostView('xn--pple-43d.com');
  assert.equal([apple.ascii, apple.unicode], ['xn--pple-43d.com', 'аpple.com']);
  assert.is(apple.notes.length, 1);
  assert.match(apple.notes[0]!, /the label "аpple" mixes Cyrillic and Latin letters/);
  assert.is(hostText('xn--pple-43d.com'), 'xn--pple-43d.com (Unicode: аpple.com)');
  assert.is(hostUnicode('*.xn--pple-43d.com'), '*.аpple.com');
  // "аррӏе.com": every letter of the first label Cyrillic, the last label Latin.
  const whole = hostView('xn--80ak6aa92e.com');
  assert.is(whole.unicode, 'аррӏе.com');
  assert.match(whole.notes.join('\n'), /its labels mix scripts, Cyrillic \("аррӏе"\) and Latin \("com"\)/);
  // Control: one script throughout is shown in both forms and not flagged; Japanese mixes are usual.
  assert.equal(hostView('xn--bcher-kva.example'), { ascii: 'xn--bcher-kva.example', unicode: 'bücher.example', notes: [] });
  assert.equal(hostView('xn--r8jz45g.xn--zckzah').notes, [], 'Han and Hiragana with Katakana');
  // Control: a plain ASCII host is left alone.
  assert.equal(hostView('api.example.com'), { ascii: 'api.example.com', unicode: null, notes: [] });
  assert.is(hostText('*.example.com'), '*.example.com');
  assert.is(hostUnicode('api.example.com'), null);
  assert.equal(scriptsOf('a1-б'), ['Latin', 'Cyrillic']);
});

test.run();
