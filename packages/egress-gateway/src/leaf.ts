/**
 * Leaf certificates in DER, signed with Node's own crypto. A leaf is one fixed shape (a DNS name,
 * one shared key, the CA as issuer), so it is written here field by field rather than through a
 * general X.509 library: the gateway then loads no certificate library at all (one, with
 * reflect-metadata and tsyringe under it, was most of an idle gateway's memory and ~100 ms of
 * every launch).
 * The per-bottle CA certificate is written the same way (signCa), so no part of bot-bottle loads one.
 */
import { createHash, randomBytes, sign, type KeyObject } from 'node:crypto';

// ---- DER ------------------------------------------------------------------------------------------

function tlv(tag: number, content: Buffer): Buffer {
  const n = content.length;
  let head: Buffer;
  if (n < 0x80) head = Buffer.from([tag, n]);
  else if (n < 0x100) head = Buffer.from([tag, 0x81, n]);
  else if (n < 0x10000) head = Buffer.from([tag, 0x82, n >> 8, n & 0xff]);
  else head = Buffer.from([tag, 0x83, n >> 16, (n >> 8) & 0xff, n & 0xff]);
  return Buffer.concat([head, content]);
}

const seq = (...parts: Buffer[]) => tlv(0x30, Buffer.concat(parts));
const octets = (b: Buffer) => tlv(0x04, b);
const TRUE = Buffer.from([0x01, 0x01, 0xff]);

function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number);
  const out = [a! * 40 + b!];
  for (const n of rest) {
    const bytes = [n & 0x7f];
    for (let v = Math.floor(n / 128); v > 0; v = Math.floor(v / 128)) bytes.unshift((v & 0x7f) | 0x80);
    out.push(...bytes);
  }
  return tlv(0x06, Buffer.from(out));
}

/** UTCTime through 2049, GeneralizedTime after (RFC 5280 4.1.2.5), to the second, in UTC. */
function time(d: Date): Buffer {
  const iso = d.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = iso.slice(0, 19).replace(/[-T:]/g, '') + 'Z';
  return d.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(digits.slice(2), 'latin1')) : tlv(0x18, Buffer.from(digits, 'latin1'));
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return critical ? seq(oid(id), TRUE, octets(value)) : seq(oid(id), octets(value));
}

interface Tlv {
  tag: number;
  /** Offset of the whole element, of its content, and just past it. */
  start: number;
  content: number;
  end: number;
}

function readTlv(buf: Buffer, at: number): Tlv {
  const tag = buf[at]!;
  let len = buf[at + 1]!;
  let content = at + 2;
  if (len & 0x80) {
    const count = len & 0x7f;
    if (count === 0 || count > 4) throw new Error('unsupported DER length');
    len = 0;
    for (let i = 0; i < count; i++) len = len * 256 + buf[content + i]!;
    content += count;
  }
  const end = content + len;
  if (end > buf.length) throw new Error('truncated DER');
  return { tag, start: at, content, end };
}

/** The elements inside a constructed element. */
function children(buf: Buffer, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let at = parent.content; at < parent.end; ) {
    const t = readTlv(buf, at);
    out.push(t);
    at = t.end;
  }
  return out;
}

// ---- the CA's part ----------------------------------------------------------------------------

/** What a leaf takes from its CA certificate: the issuer name as encoded, and the key identifier. */
export interface IssuerFields {
  /** The CA's subject Name, byte for byte (the leaf's issuer must match it exactly). */
  subject: Buffer;
  /** The CA's subject key identifier (its extension, else the SHA-1 of its public key). */
  keyId: Buffer;
}

const SKI = '2.5.29.14';

export function issuerFields(caDer: Buffer): IssuerFields {
  const cert = readTlv(caDer, 0);
  const tbs = children(caDer, children(caDer, cert)[0]!);
  // version [0] is optional; then serial, signature, issuer, validity, subject, spki, ...
  const i = tbs[0]!.tag === 0xa0 ? 1 : 0;
  const subject = tbs[i + 4]!;
  const spki = tbs[i + 5]!;
  let keyId: Buffer | null = null;
  const exts = tbs.find((t) => t.tag === 0xa3);
  if (exts) {
    const skiOid = oid(SKI);
    for (const ext of children(caDer, children(caDer, exts)[0]!)) {
      const parts = children(caDer, ext);
      if (!caDer.subarray(parts[0]!.start, parts[0]!.end).equals(skiOid)) continue;
      // extnValue is an OCTET STRING holding the DER of the identifier, itself an OCTET STRING.
      const inner = readTlv(caDer, parts[parts.length - 1]!.content);
      keyId = Buffer.from(caDer.subarray(inner.content, inner.end));
    }
  }
  if (!keyId) {
    // RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING's bits.
    const bits = children(caDer, spki)[1]!;
    keyId = createHash('sha1').update(caDer.subarray(bits.content + 1, bits.end)).digest();
  }
  return { subject: Buffer.from(caDer.subarray(subject.start, subject.end)), keyId };
}

// ---- the leaf -----------------------------------------------------------------------------------

export interface LeafSpec {
  host: string;
  notBefore: Date;
  notAfter: Date;
  /** The leaves' shared public key, SPKI DER. */
  publicKey: Buffer;
  issuer: IssuerFields;
  /** The CA's private key, EC (P-256, P-384, P-521) or RSA. */
  caKey: KeyObject;
}

/** The signature algorithm a CA key signs with, as its hash and its AlgorithmIdentifier. */
export function signatureAlgorithm(caKey: KeyObject): { hash: string; der: Buffer } {
  if (caKey.asymmetricKeyType === 'rsa') return { hash: 'sha256', der: seq(oid('1.2.840.113549.1.1.11'), Buffer.from([0x05, 0x00])) };
  if (caKey.asymmetricKeyType === 'ec') {
    const curve = caKey.asymmetricKeyDetails?.namedCurve;
    return curve === 'prime256v1' ? { hash: 'sha256', der: seq(oid('1.2.840.10045.4.3.2')) } : { hash: 'sha384', der: seq(oid('1.2.840.10045.4.3.3')) };
  }
  throw new Error(`CA key type ${caKey.asymmetricKeyType} is not supported`);
}

/** A serial: 16 random bytes, positive, with no leading zero byte (DER's minimal form). */
function serial(): Buffer {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x40;
  return tlv(0x02, b);
}

/** A server certificate for `host` (DER): CN and SAN dNSName `host`, serverAuth, not a CA. */
export function signLeaf(spec: LeafSpec): Buffer {
  const alg = signatureAlgorithm(spec.caKey);
  const name = Buffer.from(spec.host, 'latin1');
  const tbs = seq(
    Buffer.from([0xa0, 0x03, 0x02, 0x01, 0x02]), // version 3
    serial(),
    alg.der,
    spec.issuer.subject,
    seq(time(spec.notBefore), time(spec.notAfter)),
    seq(tlv(0x31, seq(oid('2.5.4.3'), tlv(0x0c, name)))),
    spec.publicKey,
    tlv(
      0xa3,
      seq(
        extension('2.5.29.19', true, seq()), // basicConstraints: not a CA
        extension('2.5.29.15', true, Buffer.from([0x03, 0x02, 0x07, 0x80])), // keyUsage: digitalSignature
        extension('2.5.29.37', false, seq(oid('1.3.6.1.5.5.7.3.1'))), // extKeyUsage: serverAuth
        extension('2.5.29.17', false, seq(tlv(0x82, name))), // subjectAltName: dNSName
        extension('2.5.29.35', false, seq(tlv(0x80, spec.issuer.keyId))), // authorityKeyIdentifier
      ),
    ),
  );
  const signature = sign(alg.hash, tbs, spec.caKey);
  return seq(tbs, alg.der, tlv(0x03, Buffer.concat([Buffer.from([0]), signature])));
}

/** The SHA-1 of a SubjectPublicKeyInfo's key bits: RFC 5280 4.2.1.2's key identifier, method 1. */
export function keyIdentifier(spki: Buffer): Buffer {
  const bits = children(spki, readTlv(spki, 0))[1]!;
  return createHash('sha1').update(spki.subarray(bits.content + 1, bits.end)).digest();
}

export interface CaSpec {
  /** Subject (and issuer) common name; the organisation is always bot-bottle. */
  commonName: string;
  notBefore: Date;
  notAfter: Date;
  /** The CA's public key, SPKI DER. */
  publicKey: Buffer;
  /** Its private key, which signs the certificate itself. */
  key: KeyObject;
}

/**
 * A self-signed CA certificate (DER): subject CN=<commonName>, O=bot-bottle; basicConstraints CA
 * with path length 0 (it signs leaves only), keyUsage keyCertSign and cRLSign, both critical; its
 * subject key identifier.
 */
export function signCa(spec: CaSpec): Buffer {
  const alg = signatureAlgorithm(spec.key);
  const utf8 = (s: string) => tlv(0x0c, Buffer.from(s, 'utf8'));
  const name = seq(tlv(0x31, seq(oid('2.5.4.3'), utf8(spec.commonName))), tlv(0x31, seq(oid('2.5.4.10'), utf8('bot-bottle'))));
  const tbs = seq(
    Buffer.from([0xa0, 0x03, 0x02, 0x01, 0x02]), // version 3
    serial(),
    alg.der,
    name,
    seq(time(spec.notBefore), time(spec.notAfter)),
    name,
    spec.publicKey,
    tlv(
      0xa3,
      seq(
        extension('2.5.29.19', true, seq(TRUE, Buffer.from([0x02, 0x01, 0x00]))), // basicConstraints: CA, pathLen 0
        extension('2.5.29.15', true, Buffer.from([0x03, 0x02, 0x01, 0x06])), // keyUsage: keyCertSign, cRLSign
        extension(SKI, false, octets(keyIdentifier(spec.publicKey))), // subjectKeyIdentifier
      ),
    ),
  );
  const signature = sign(alg.hash, tbs, spec.key);
  return seq(tbs, alg.der, tlv(0x03, Buffer.concat([Buffer.from([0]), signature])));
}

export function derToPem(der: Buffer): string {
  const b64 = der.toString('base64').replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN CERTIFICATE-----\n${b64}-----END CERTIFICATE-----\n`;
}
