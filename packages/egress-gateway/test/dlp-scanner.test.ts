/**
 * DlpScanner.scanText on its own: the one-regex check that runs first (anything at all to find?)
 * must never hide what the full scan finds: secrets with regex metacharacters, the case-insensitive
 * armour, JWTs only where no route allows the host, escapes that call for the decoded view.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { DlpScanner, encodedForms } from '@bot-bottle/egress-gateway';

const test = suite('dlp scanner');
const ODD = 'a.b*c+(d)[e]{f}|g^h$i\\j/k-l?m';
const scanner = new DlpScanner({ ODD_SECRET: ODD, PLAIN: 'plain-secret-1234567890' });
const routed = { routed: true };
const unrouted = { routed: false };

test('a secret made of regex metacharacters is found in every encoded form, and nothing like it is', () => {
  for (const form of encodedForms(ODD)) {
    assert.equal(scanner.scanText(`x ${form} y`, 'body', routed)?.kind, 'the value of ODD_SECRET', form);
  }
  // Controls: its pieces, and what its metacharacters would match as a pattern, are not it.
  for (const near of ['a.b*c+(d)[e]{f}|g', 'aXb*c+(d)[e]{f}|g^h$i\\j/k-l?m', 'abbbc', 'g', 'h$i']) assert.is(scanner.scanText(near, 'body', routed), null, near);
});

test('the armour of a private key in any case, a JWT only without a route, an escaped token', () => {
  assert.is(scanner.scanText(['-----begin', 'rsa private key-----'].join(' '), 'body', routed)?.kind, 'private key block');
  const jwt = ['eyJhbGciOiJIUzI1NiJ9', 'eyJzdWIiOiIxMjM0NTY3ODkwIn0', 'c2ln'].join('.');
  assert.is(scanner.scanText(jwt, 'header authorization', routed), null);
  assert.is(scanner.scanText(jwt, 'header authorization', unrouted)?.kind, 'JWT');
  const token = ['sk', 'ant', 'api03', 'AbCdEfGhIjKlMnOpQrStUvWxYz012345'].join('-');
  const escaped = [...token].map((c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`).join('');
  assert.is(scanner.scanText(escaped, 'url', routed)?.kind, 'Anthropic API key');
  assert.is(scanner.scanText(`"${escaped.replace(/%/g, '\\x')}"`, 'body', routed)?.kind, 'Anthropic API key');
  assert.is(scanner.scanText('GET /v1/messages?limit=20&order=desc HTTP/1.1 accept: application/json', 'url', routed), null);
});

test.run();
