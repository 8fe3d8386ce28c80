/**
 * The per-bottle CA and the leaf certificates the gateway presents for each intercepted host.
 * Both are written in DER and signed with Node's own crypto (leaf.ts): no certificate library is
 * loaded, on the host or in the gateway. Keys are ECDSA P-256 made by Node's native crypto.
 */
import { createPrivateKey, generateKeyPairSync, X509Certificate as NodeX509, type KeyObject } from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import tls from 'node:tls';
import { ServiceError } from '@bot-bottle/core/service';
import { derToPem, issuerFields, signCa, signLeaf, type IssuerFields } from './leaf.js';

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

/**
 * Makes a CA for one bottle in `dir`: `ca.crt` (PEM, mode 644) and `ca.key` (PKCS#8 PEM, mode 600).
 * The launcher calls it on the host; the certificate goes into the bottle, the key only to the gateway.
 */
export async function createBottleCa(dir: string, options: CreateBottleCaOptions = {}): Promise<BottleCa> {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const now = Date.now();
  const der = signCa({
    commonName: (options.commonName ?? 'bot-bottle egress CA').replace(/[,=+<>#;"\\]/g, ' '),
    notBefore: new Date(now - DAY),
    notAfter: new Date(now + (options.days ?? 825) * DAY),
    publicKey: publicKey.export({ type: 'spki', format: 'der' }),
    key: privateKey,
  });
  await mkdir(dir, { recursive: true });
  const certPath = path.join(dir, 'ca.crt');
  const keyPath = path.join(dir, 'ca.key');
  const certPem = derToPem(der);
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
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
  /** The CA's private key (EC or RSA). */
  key: KeyObject;
  /** What each leaf copies from the CA certificate. */
  issuer: IssuerFields;
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
  return caFromPem(certPem, keyPem, certPath, keyPath);
}

/** A CA from its PEM texts (`certName` and `keyName` say where they came from, for messages). */
export function caFromPem(certPem: string, keyPem: string, certName = 'the CA certificate', keyName = 'the CA key'): LoadedCa {
  const certPath = certName;
  const keyPath = keyName;
  let nodeCert: NodeX509;
  try {
    nodeCert = new NodeX509(certPem);
  } catch (e) {
    throw new ServiceError(`egress gateway: ${certPath} is not a PEM certificate`, { cause: e });
  }
  if (!nodeCert.ca) throw new ServiceError(`egress gateway: ${certPath} is not a CA certificate (basicConstraints CA:FALSE)`);
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch (e) {
    throw new ServiceError(`egress gateway: ${keyPath} is not a PEM private key`, { cause: e });
  }
  if (!nodeCert.checkPrivateKey(key)) {
    throw new ServiceError(`egress gateway: ${keyPath} is not the key of ${certPath}`, {
      suggestions: ['Give the ca.key made together with ca.crt, or make a new pair with createBottleCa(dir).'],
    });
  }
  if (key.asymmetricKeyType !== 'ec' && key.asymmetricKeyType !== 'rsa') {
    throw new ServiceError(`egress gateway: CA key type ${key.asymmetricKeyType} is not supported; use ECDSA or RSA`);
  }
  let issuer: IssuerFields;
  try {
    issuer = issuerFields(nodeCert.raw);
  } catch (e) {
    throw new ServiceError(`egress gateway: ${certPath} could not be read as an X.509 certificate (${(e as Error).message})`, { cause: e });
  }
  return { certPem: certPem.endsWith('\n') ? certPem : `${certPem}\n`, notAfter: nodeCert.validToDate, key, issuer };
}

/**
 * Issues and caches one TLS context per intercepted host name. All leaves share one key pair made
 * once (as mitmproxy does): signing a certificate is cheap, making a key is not.
 */
export class LeafCertificates {
  private readonly contexts = new Map<string, tls.SecureContext>();
  private leafKey: { publicKey: Buffer; keyPem: string } | null = null;

  constructor(
    private readonly ca: LoadedCa,
    private readonly maxEntries = 2000,
  ) {}

  private key(): { publicKey: Buffer; keyPem: string } {
    if (!this.leafKey) {
      const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
      this.leafKey = { publicKey: publicKey.export({ type: 'spki', format: 'der' }), keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
    }
    return this.leafKey;
  }

  /** The TLS context presenting a certificate for `host` (a DNS name, lower case). */
  contextFor(host: string): tls.SecureContext {
    const hit = this.contexts.get(host);
    if (hit) {
      // Re-insert so the Map's order is least-recently-used first.
      this.contexts.delete(host);
      this.contexts.set(host, hit);
      return hit;
    }
    const { certPem, keyPem } = this.issue(host);
    const made = tls.createSecureContext({ cert: certPem + this.ca.certPem, key: keyPem });
    this.contexts.set(host, made);
    if (this.contexts.size > this.maxEntries) {
      const oldest = this.contexts.keys().next().value;
      if (oldest !== undefined) this.contexts.delete(oldest);
    }
    return made;
  }

  /** A fresh leaf for `host` (PEM) and the shared leaf key (PKCS#8 PEM). */
  issue(host: string): { certPem: string; keyPem: string } {
    const { publicKey, keyPem } = this.key();
    const now = Date.now();
    const der = signLeaf({
      host,
      notBefore: new Date(now - DAY),
      notAfter: new Date(Math.min(this.ca.notAfter.getTime(), now + 397 * DAY)),
      publicKey,
      issuer: this.ca.issuer,
      caKey: this.ca.key,
    });
    return { certPem: derToPem(der), keyPem };
  }

  /** The PEM certificate the gateway presents for `host` (for tests and diagnostics). */
  issuePem(host: string): string {
    return this.issue(host).certPem;
  }
}
