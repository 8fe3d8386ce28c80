/**
 * The per-bottle CA and the leaf certificates the gateway presents for each intercepted host.
 * Keys are ECDSA P-256 made by Node's own crypto (fast, unlike RSA in JavaScript); @peculiar/x509
 * builds and signs the certificates through WebCrypto. That library (with reflect-metadata and
 * tsyringe under it) is a large part of an idle gateway's memory, so it is loaded when the first
 * certificate is made, not at start: a gateway nobody uses through a tunnel never loads it.
 */
import { createPrivateKey, randomBytes, webcrypto, X509Certificate as NodeX509 } from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import tls from 'node:tls';
import type * as X509 from '@peculiar/x509';
import { ServiceError } from '@bot-bottle/core';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
type Algorithm = webcrypto.Algorithm;
type EcdsaParams = webcrypto.EcdsaParams;

let x509Lib: Promise<typeof X509> | null = null;

/** @peculiar/x509, loaded once on first use, set to Node's WebCrypto. */
function loadX509(): Promise<typeof X509> {
  x509Lib ??= (async () => {
    // @peculiar/x509 resolves its algorithms through tsyringe, which needs the Reflect metadata API.
    await import('reflect-metadata');
    const lib = await import('@peculiar/x509');
    lib.cryptoProvider.set(webcrypto as unknown as Parameters<typeof lib.cryptoProvider.set>[0]);
    return lib;
  })();
  return x509Lib;
}

const EC = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const EC_SIGN = { name: 'ECDSA', hash: 'SHA-256' } as const;
const DAY = 24 * 60 * 60 * 1000;

export interface BottleCa {
  certPath: string;
  keyPath: string;
  certPem: string;
}

export interface CreateBottleCaOptions {
  /** Subject common name; defaults to "bot-bottle egress CA". */
  commonName?: string;
  /** Days the CA is valid; defaults to 825. */
  days?: number;
}

function pem(label: string, der: ArrayBuffer): string {
  const b64 = Buffer.from(der).toString('base64').replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN ${label}-----\n${b64}-----END ${label}-----\n`;
}

function serial(): string {
  // Positive, 16 bytes: the high bit is cleared so DER does not read it as negative.
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f;
  return b.toString('hex');
}

/**
 * Makes a CA for one bottle in `dir`: `ca.crt` (PEM, mode 644) and `ca.key` (PKCS#8 PEM, mode 600).
 * The launcher calls it on the host; the certificate goes into the bottle, the key only to the gateway.
 */
export async function createBottleCa(dir: string, options: CreateBottleCaOptions = {}): Promise<BottleCa> {
  const x509 = await loadX509();
  const keys = await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify']);
  const now = Date.now();
  const cn = (options.commonName ?? 'bot-bottle egress CA').replace(/[,=+<>#;"\\]/g, ' ');
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${cn}, O=bot-bottle`,
    notBefore: new Date(now - DAY),
    notAfter: new Date(now + (options.days ?? 825) * DAY),
    signingAlgorithm: EC_SIGN,
    keys: keys as CryptoKeyPair,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey as CryptoKey),
    ],
  });
  await mkdir(dir, { recursive: true });
  const certPath = path.join(dir, 'ca.crt');
  const keyPath = path.join(dir, 'ca.key');
  const certPem = cert.toString('pem') + '\n';
  const keyPem = pem('PRIVATE KEY', await webcrypto.subtle.exportKey('pkcs8', keys.privateKey as CryptoKey));
  // The key is written under another name with mode 600 from the start, then renamed into place.
  const tmpKey = `${keyPath}.${process.pid}.tmp`;
  await writeFile(tmpKey, keyPem, { mode: 0o600 });
  await chmod(tmpKey, 0o600);
  await rename(tmpKey, keyPath);
  await writeFile(certPath, certPem, { mode: 0o644 });
  return { certPath, keyPath, certPem };
}

/** A loaded CA that signs leaf certificates. */
export interface LoadedCa {
  certPem: string;
  /** When the CA expires: no leaf outlives it. */
  notAfter: Date;
  signingKey: CryptoKey;
  signingAlgorithm: Algorithm | EcdsaParams;
}

/** Reads a CA made by {@link createBottleCa} (or any ECDSA/RSA CA in PEM). */
export async function loadCa(certPath: string, keyPath: string): Promise<LoadedCa> {
  let certPem: string;
  let keyPem: string;
  try {
    [certPem, keyPem] = await Promise.all([readFile(certPath, 'utf8'), readFile(keyPath, 'utf8')]);
  } catch (e) {
    throw new ServiceError(`egress gateway: cannot read its CA (${(e as Error).message})`, {
      suggestions: ['Make the CA with createBottleCa(dir) and give its ca.crt and ca.key in the gateway config ("ca": {"cert", "key"}).'],
      cause: e,
    });
  }
  let nodeCert: NodeX509;
  try {
    nodeCert = new NodeX509(certPem);
  } catch (e) {
    throw new ServiceError(`egress gateway: ${certPath} is not a PEM certificate`, { cause: e });
  }
  if (!nodeCert.ca) throw new ServiceError(`egress gateway: ${certPath} is not a CA certificate (basicConstraints CA:FALSE)`);
  let keyObject: ReturnType<typeof createPrivateKey>;
  try {
    keyObject = createPrivateKey(keyPem);
  } catch (e) {
    throw new ServiceError(`egress gateway: ${keyPath} is not a PEM private key`, { cause: e });
  }
  if (!nodeCert.checkPrivateKey(keyObject)) {
    throw new ServiceError(`egress gateway: ${keyPath} is not the key of ${certPath}`, {
      suggestions: ['Give the ca.key made together with ca.crt, or make a new pair with createBottleCa(dir).'],
    });
  }
  let signingAlgorithm: Algorithm | EcdsaParams;
  let importAlg: Algorithm | webcrypto.EcKeyImportParams | webcrypto.RsaHashedImportParams;
  if (keyObject.asymmetricKeyType === 'ec') {
    const curve = keyObject.asymmetricKeyDetails?.namedCurve;
    const namedCurve = curve === 'secp384r1' ? 'P-384' : curve === 'secp521r1' ? 'P-521' : 'P-256';
    importAlg = { name: 'ECDSA', namedCurve };
    signingAlgorithm = { name: 'ECDSA', hash: namedCurve === 'P-256' ? 'SHA-256' : 'SHA-384' } as EcdsaParams;
  } else if (keyObject.asymmetricKeyType === 'rsa') {
    importAlg = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
    signingAlgorithm = { name: 'RSASSA-PKCS1-v1_5' };
  } else {
    throw new ServiceError(`egress gateway: CA key type ${keyObject.asymmetricKeyType} is not supported; use ECDSA or RSA`);
  }
  const der = keyObject.export({ format: 'der', type: 'pkcs8' });
  const signingKey = await webcrypto.subtle.importKey('pkcs8', der, importAlg, false, ['sign']);
  return { certPem, notAfter: nodeCert.validToDate, signingKey, signingAlgorithm };
}

/**
 * Issues and caches one TLS context per intercepted host name. All leaves share one key pair made
 * at start (as mitmproxy does): signing a certificate is cheap, making a key is not.
 */
export class LeafCertificates {
  private readonly contexts = new Map<string, Promise<tls.SecureContext>>();
  private leafKeys: Promise<{ keys: CryptoKeyPair; keyPem: string }> | null = null;
  private caCert: X509.X509Certificate | null = null;

  constructor(
    private readonly ca: LoadedCa,
    private readonly maxEntries = 2000,
  ) {}

  private keys() {
    this.leafKeys ??= (async () => {
      const keys = (await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as CryptoKeyPair;
      return { keys, keyPem: pem('PRIVATE KEY', await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)) };
    })();
    return this.leafKeys;
  }

  /** The TLS context presenting a certificate for `host` (a DNS name, lower case). */
  contextFor(host: string): Promise<tls.SecureContext> {
    const hit = this.contexts.get(host);
    if (hit) {
      // Re-insert so the Map's order is least-recently-used first.
      this.contexts.delete(host);
      this.contexts.set(host, hit);
      return hit;
    }
    const made = this.issue(host);
    made.catch(() => this.contexts.delete(host));
    this.contexts.set(host, made);
    if (this.contexts.size > this.maxEntries) {
      const oldest = this.contexts.keys().next().value;
      if (oldest !== undefined) this.contexts.delete(oldest);
    }
    return made;
  }

  /** The PEM certificate the gateway presents for `host` (for tests and diagnostics). */
  async issuePem(host: string): Promise<string> {
    const { keys } = await this.keys();
    return (await this.sign(host, keys)).toString('pem');
  }

  private async sign(host: string, keys: CryptoKeyPair): Promise<X509.X509Certificate> {
    const x509 = await loadX509();
    this.caCert ??= new x509.X509Certificate(this.ca.certPem);
    const now = Date.now();
    const caEnd = this.ca.notAfter.getTime();
    return x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject: `CN=${host}`,
      issuer: this.caCert.subject,
      notBefore: new Date(now - DAY),
      notAfter: new Date(Math.min(caEnd, now + 397 * DAY)),
      signingAlgorithm: this.ca.signingAlgorithm,
      publicKey: keys.publicKey,
      signingKey: this.ca.signingKey,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
        new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: host }], false),
        await x509.AuthorityKeyIdentifierExtension.create(this.caCert, false),
      ],
    });
  }

  private async issue(host: string): Promise<tls.SecureContext> {
    const { keys, keyPem } = await this.keys();
    const leaf = await this.sign(host, keys);
    return tls.createSecureContext({ cert: leaf.toString('pem') + '\n' + this.ca.certPem, key: keyPem });
  }
}
