/**
 * Token formats sent base64- or hex-encoded (a red-team finding: a GitHub token base64'd into a
 * body reached the upstream). Found at every alignment, in both base64 alphabets and in hex of
 * either case, wrapped or JSON-escaped, split across body chunks at every position, in URLs and
 * headers; refusals name the kind and the encoding. Random base64 and hex, an image, a
 * certificate and ordinary text that only mentions the prefixes are not refused. The streaming
 * window does not depend on what the body holds.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { deflateSync, crc32 } from 'node:zlib';
import { DlpError, DlpScanner, type DlpFinding } from '@bot-bottle/egress-gateway';
import { makeUpstreamPki } from './helpers.js';

const test = suite('dlp of encoded tokens');

// Token-shaped strings are assembled at run time so that secret scanners reading this file see no tokens.
const GITHUB = 'gh' + 'p_' + 'AbCdEfGhIjKlMnOpQrStUvWxYz0123456789';
const TOKENS: Record<string, string> = {
  'Anthropic API key': ['sk', 'ant', 'api03', 'AbCdEfGhIjKlMnOpQrStUvWxYz012345'].join('-'),
  'OpenAI API key': ['sk', 'proj', 'AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcd'].join('-'),
  'GitHub token': GITHUB,
  'GitHub token ': 'github' + '_pat_' + '11ABCDEFG0123456789_abcdefghijklmnop',
  'GitLab token': 'gl' + 'pat-' + 'AbCdEfGhIjKlMnOpQrSt',
  'Slack token': 'xo' + 'xb-' + '123456789012-123456789012-AbCdEf',
  'Slack token ': 'xo' + 'xp-' + '1234567890', // the shortest match of any pattern
  'AWS access key id': 'AK' + 'IA' + 'QWERTYUIOPASDFGH',
  'private key block': ['-----BEGIN', 'OPENSSH PRIVATE KEY-----'].join(' ') + '\nb3BlbnNzaC1rZXktdjEAAAAA\n',
  'private key (unarmoured)': 'PuTTY' + '-User-Key-File-3: ssh-ed25519\nEncryption: none\n',
};

const scanner = new DlpScanner({ INJECTED: 'gh' + 'p_' + 'Injected0123456789Injected0123456789' });
const routed = { routed: true };
const scan = (text: string, where = 'body') => scanner.scanText(text, where, routed);

// xorshift32: the same samples on every run.
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}
function randomBytes(n: number, r: () => number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(r() * 256);
  return b;
}

/**
 * The token base64'd after `k` other bytes (so it starts at each of the three byte positions of a
 * group): what separates a token from a letter before it (a token right after a letter is none).
 */
function base64At(token: string, k: number, alphabet: 'base64' | 'base64url' = 'base64'): string {
  return Buffer.concat([Buffer.from(' :='.slice(0, k)), Buffer.from(token)]).toString(alphabet);
}
const hex = (token: string) => Buffer.from(token).toString('hex');

test('a GitHub token base64d after 0, 1 and 2 other bytes, standard and URL-safe, is refused as a GitHub token (base64)', () => {
  // Base64 of ASCII text never has "+" or "/"; binary around the token puts them (or "-" and "_")
  // into the same run, which must then be read in the alphabet it is in.
  const binary = (k: number, alphabet: 'base64' | 'base64url') => Buffer.concat([Buffer.from([0xfb, 0xff, 0xbe]), Buffer.from(' :='.slice(0, k)), Buffer.from(GITHUB), Buffer.from([0xff, 0xfb, 0xef])]).toString(alphabet);
  for (let k = 0; k < 3; k++) {
    const std = binary(k, 'base64');
    const url = binary(k, 'base64url');
    assert.match(std, /[+/]/);
    assert.match(url, /[-_]/);
    for (const form of [base64At(GITHUB, k), base64At(GITHUB, k).replace(/=+$/, ''), base64At(GITHUB, k, 'base64url'), std, url]) {
      assert.equal(scan(JSON.stringify({ content: form })), { kind: 'GitHub token (base64)', where: 'body' }, form);
      assert.is(scan(`prefix:${form}:suffix`)?.kind, 'GitHub token (base64)', form);
    }
  }
});

test('a GitHub token in hex, lower, upper and mixed case, is refused as a GitHub token (hex)', () => {
  const h = hex(GITHUB);
  const mixed = [...h].map((c, i) => (i % 3 ? c : c.toUpperCase())).join('');
  for (const form of [h, h.toUpperCase(), mixed, `0${h}`, `${h}0`]) {
    assert.equal(scan(JSON.stringify({ hex: form })), { kind: 'GitHub token (hex)', where: 'body' }, form);
  }
});

test('every token format, base64d at each alignment and hexed, is refused with its kind and the encoding', () => {
  for (const [name, token] of Object.entries(TOKENS)) {
    const kind = name.trim();
    const named = (enc: string) => (kind.endsWith(')') ? `${kind.slice(0, -1)}, ${enc})` : `${kind} (${enc})`);
    for (let k = 0; k < 3; k++) {
      for (const alphabet of ['base64', 'base64url'] as const) {
        assert.is(scan(`{"blob":"${base64At(token, k, alphabet)}"}`)?.kind, named('base64'), `${name} ${alphabet} after ${k}`);
      }
    }
    assert.is(scan(`{"blob":"${hex(token)}"}`)?.kind, named('hex'), `${name} hex`);
    assert.is(scan(`{"blob":"${hex(token).toUpperCase()}"}`)?.kind, named('hex'), `${name} HEX`);
  }
});

test('a letter glued to the front of a token does not hide it once decoded; OpenAI keys and kebab-case words keep the look-behind', () => {
  for (const [name, token] of Object.entries(TOKENS)) {
    if (name === 'OpenAI API key') continue;
    const kind = name.trim();
    const named = kind.endsWith(')') ? `${kind.slice(0, -1)}, base64)` : `${kind} (base64)`;
    for (let k = 0; k < 3; k++) assert.is(scan(base64At(`x${token}`, k))?.kind, named, `x${name} after ${k}`);
    assert.is(scan(hex(`Q${token}`))?.kind, named.replace('base64', 'hex'), `Q${name} in hex`);
  }
  for (const text of ['see risk-assessment-for-the-new-project-plan.md', 'the desk-management-service-v2-rollout-checklist']) {
    for (let k = 0; k < 3; k++) assert.is(scan(base64At(text, k)), null, text);
  }
});

test('base64 wrapped in lines (raw, CRLF, JSON-escaped), with JSON-escaped slashes, or percent-encoded, is read whole', () => {
  // The token's bytes in the middle of a longer blob, so the wrap falls inside its encoding.
  const blob = Buffer.concat([randomBytes(50, rng(7)), Buffer.from(` ${GITHUB} `), randomBytes(50, rng(8))]).toString('base64');
  const wrapped = (eol: string, width: number) => blob.match(new RegExp(`.{1,${width}}`, 'g'))!.join(eol);
  for (const width of [76, 64, 7, 1]) {
    assert.is(scan(wrapped('\n', width))?.kind, 'GitHub token (base64)', `LF every ${width}`);
    assert.is(scan(wrapped('\r\n', width))?.kind, 'GitHub token (base64)', `CRLF every ${width}`);
    assert.is(scan(JSON.stringify({ content: wrapped('\n', width) }))?.kind, 'GitHub token (base64)', `JSON \\n every ${width}`);
    assert.is(scan(JSON.stringify({ content: wrapped('\r\n', width) }))?.kind, 'GitHub token (base64)', `JSON \\r\\n every ${width}`);
  }
  assert.ok(blob.includes('/'), 'the blob has a slash to escape');
  assert.is(scan(`{"content":"${blob.replace(/\//g, '\\/')}"}`)?.kind, 'GitHub token (base64)', 'PHP-style \\/');
  assert.is(scan(`content=${encodeURIComponent(blob)}`)?.kind, 'GitHub token (base64)', 'form-encoded');
});

test('in the URL and in headers (Basic auth of a git push with a token)', () => {
  const b64 = base64At(GITHUB, 1);
  assert.equal(scanner.scanUrl(`/v1/x?state=${b64}`, routed), { kind: 'GitHub token (base64)', where: 'url' });
  assert.equal(scanner.scanUrl(`/v1/x?state=${encodeURIComponent(b64)}`, routed), { kind: 'GitHub token (base64)', where: 'url' });
  assert.equal(scanner.scanUrl(`/v1/${hex(GITHUB)}/x`, routed), { kind: 'GitHub token (hex)', where: 'url' });
  const basic = `Basic ${Buffer.from(`x-access-token:${GITHUB}`).toString('base64')}`;
  assert.equal(scanner.scanHeaders(['Authorization', basic], new Set(), routed), { kind: 'GitHub token (base64)', where: 'header authorization' });
  assert.is(scanner.scanHeaders(['Authorization', basic], new Set(['authorization']), routed), null, 'the header the gateway sets is exempt, as before');
});

test('an injected value is named as such only when it is all there; another token of its format is named by its format', () => {
  const injected = 'gh' + 'p_' + 'Injected0123456789Injected0123456789';
  for (let k = 0; k < 3; k++) assert.is(scan(base64At(injected, k))?.kind, 'the value of INJECTED');
  assert.is(scan(hex(injected))?.kind, 'the value of INJECTED');
  assert.is(scan(base64At(GITHUB, 0))?.kind, 'GitHub token (base64)');
  // Forms that are no needle, found by decoding: still the injected value, and the encoding is named.
  const wrapped = Buffer.from(injected).toString('base64').match(/.{1,10}/g)!.join('\n');
  assert.is(scan(wrapped)?.kind, 'the value of INJECTED (base64)');
  const mixed = [...hex(injected)].map((c, i) => (i % 4 === 1 ? c.toUpperCase() : c)).join('');
  assert.ok(mixed !== hex(injected) && mixed !== hex(injected).toUpperCase());
  assert.is(scan(mixed)?.kind, 'the value of INJECTED (hex)');
  // Most of the injected value (too little to be a whole token) is not reported as the injected value.
  const most = injected.slice(0, -6);
  for (let k = 0; k < 3; k++) assert.is(scan(base64At(most, k)), null, `the start of the injected value, base64d after ${k}`);
});

/** Feeds `chunks` to a body stream; what it passed on before it stopped, and why it stopped. */
async function stream(chunks: Buffer[], s = scanner): Promise<{ out: Buffer; finding: DlpFinding | null }> {
  const body = s.bodyStream(routed);
  const out: Buffer[] = [];
  body.on('data', (c: Buffer) => out.push(c));
  return new Promise((resolve, reject) => {
    body.on('error', (e) => (e instanceof DlpError ? resolve({ out: Buffer.concat(out), finding: e.finding }) : reject(e)));
    body.on('end', () => resolve({ out: Buffer.concat(out), finding: null }));
    for (const c of chunks) if (!body.destroyed) body.write(c);
    if (!body.destroyed) body.end();
  });
}

test('split across two body chunks at every position: refused, and no byte of the encoding passed on', async () => {
  const filler = Buffer.alloc(3000, 'a');
  const forms: [string, string][] = [
    ...[0, 1, 2].map((k): [string, string] => [base64At(GITHUB, k), 'GitHub token (base64)']),
    [Buffer.concat([Buffer.from([0xfb, 0xff]), Buffer.from(` ${GITHUB}`), Buffer.from([0xff, 0xfb])]).toString('base64url'), 'GitHub token (base64)'],
    [hex(GITHUB), 'GitHub token (hex)'],
    [hex(GITHUB).toUpperCase(), 'GitHub token (hex)'],
  ];
  for (const [form, kind] of forms) {
    for (let p = 1; p < form.length; p++) {
      const { out, finding } = await stream([Buffer.concat([filler, Buffer.from(`{"x":"${form.slice(0, p)}`)]), Buffer.from(`${form.slice(p)}"}`)]);
      assert.equal(finding, { kind, where: 'body' }, `${form} split at ${p}`);
      assert.ok(out.length <= filler.length, `passed on ${out.length} bytes, into the encoding (split at ${p})`);
    }
  }
});

test('what a body stream holds back does not depend on what the body holds: a partial encoded token is held like any bytes', async () => {
  const r = rng(11);
  const random = randomBytes(4000, r).toString('base64').slice(0, 5000);
  const partial = random.slice(0, 5000 - 40) + base64At(GITHUB, 0).slice(0, 40); // most of an encoded token at the end
  const heldBack = async (text: string) => {
    const body = scanner.bodyStream(routed);
    let passed = 0;
    body.on('data', (c: Buffer) => (passed += c.length));
    await new Promise<void>((resolve) => body.write(Buffer.from(text), () => resolve()));
    await new Promise((resolve) => setImmediate(resolve));
    body.destroy();
    return text.length - passed;
  };
  assert.is(await heldBack(partial), await heldBack(random));
  assert.is(await heldBack(random), scanner.window);
});

test('controls: random base64 and hex of the lengths of encoded tokens, many samples, are not refused', () => {
  const r = rng(12345);
  let n = 0;
  for (let i = 0; i < 3000; i++) {
    for (const len of [40, 41, 42, 43, 60, 93]) {
      const bytes = randomBytes(len, r);
      for (const form of [bytes.toString('base64'), bytes.toString('base64url'), bytes.toString('hex'), bytes.toString('hex').toUpperCase()]) {
        const hit = scan(`{"v":"${form}"}`);
        assert.is(hit, null, `${form}: ${hit?.kind}`);
        n++;
      }
    }
  }
  assert.is(n, 72_000);
});

test('controls: large random blobs (64 KiB base64 and hex, 1 MiB through a body stream) are not refused', async () => {
  const r = rng(99);
  for (let i = 0; i < 32; i++) {
    const bytes = randomBytes(48 * 1024, r);
    assert.is(scan(bytes.toString(i % 2 ? 'base64url' : 'base64')), null, `base64 blob ${i}`);
    assert.is(scan(bytes.toString('hex').slice(0, 64 * 1024)), null, `hex blob ${i}`);
  }
  const big = Buffer.from(JSON.stringify({ file: randomBytes(768 * 1024, r).toString('base64') }));
  const chunks: Buffer[] = [];
  for (let at = 0; at < big.length; at += 16 * 1024) chunks.push(big.subarray(at, at + 16 * 1024));
  const { out, finding } = await stream(chunks);
  assert.is(finding, null);
  assert.is(out.length, big.length);
});

/** A real PNG: a gradient with noise (so its deflate stream is not trivial). */
function png(width: number, height: number): Buffer {
  const r = rng(5);
  const rows: Buffer[] = [];
  for (let y = 0; y < height; y++) {
    const row = Buffer.alloc(1 + width * 3);
    for (let x = 0; x < width; x++) row.set([(x * 255) / width, (y * 255) / height, Math.floor(r() * 64)], 1 + x * 3);
    rows.push(row);
  }
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.concat(rows))), chunk('IEND', Buffer.alloc(0))]);
}

test('controls: an image, a certificate and text that mentions the prefixes, base64d or hexed, are not refused', () => {
  const image = png(256, 256).toString('base64');
  assert.is(scan(JSON.stringify({ type: 'image', source: { type: 'base64', media_type: 'image/png', data: image } })), null, 'an image in a chat request');
  assert.is(scan(`<img src="data:image/png;base64,${image.match(/.{1,76}/g)!.join('\n')}">`), null, 'a MIME-wrapped data URL');
  const cert = makeUpstreamPki().caPem;
  assert.match(cert, /-----BEGIN CERTIFICATE-----/);
  assert.is(scan(JSON.stringify({ cert: Buffer.from(cert).toString('base64') })), null, 'a PEM certificate, base64d');
  const prose = 'GitHub tokens start with ghp_, gho_ or github_pat_; Anthropic keys with sk-ant-, AWS key ids with AKIA. Begin here: --- BEGIN notes ---\n';
  for (const text of [prose, prose.repeat(50)]) {
    for (let k = 0; k < 3; k++) assert.is(scan(base64At(text, k)), null, `prose base64d after ${k}`);
    assert.is(scan(hex(text)), null, 'prose hexed');
  }
  const shas = Array.from({ length: 200 }, (_, i) => randomBytes(i % 2 ? 20 : 32, rng(i + 1)).toString('hex'));
  assert.is(scan(JSON.stringify({ commits: shas })), null, 'commit and content hashes');
});

test.run();
