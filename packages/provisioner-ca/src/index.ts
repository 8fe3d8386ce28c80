/**
 * ca: makes the guest trust the CA its first hop presents, so TLS through the egress gateway
 * verifies. The original chose between two CAs: pipelock's when the bottle declared no egress
 * routes, mitmproxy's (egress) when it did, because whichever proxy the agent dialled first
 * terminated its TLS. Here the bottle has a single first hop, the bundle's egress gateway, which
 * intercepts with one per-bottle CA the launch creates at `plan.host.caCertPath`; so both of the
 * original's cases become "install the plan's CA". Only the certificate is ever copied: a file that
 * also holds a private key is refused, as the key must never enter the bottle.
 */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { BottleError, defineProvisioner, type ProvisionContext } from '@bot-bottle/core/provisioner';

/** `p` as one shell word; plain paths stay readable. */
function shellWord(p: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(p) ? p : `'${p.replace(/'/g, `'\\''`)}'`;
}

/** Reads the CA certificate and checks it is one (and only a certificate); returns its description. */
async function readCaCert(certPath: string): Promise<{ subject: string; fingerprint256: string }> {
  let pem: string;
  try {
    pem = await readFile(certPath, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new BottleError('PROVISIONER_FAILED', `the egress CA certificate ${certPath} ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? String(e)})`}`, {
      suggestions: [
        'The launch creates this CA before the ca provisioner runs; run `bottle doctor`, then `bottle run` again.',
        'To launch without TLS interception, remove "ca" from the agent\'s "provisioners".',
      ],
    });
  }
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) {
    throw new BottleError('PROVISIONER_FAILED', `${certPath} holds a private key; only the CA certificate may be copied into the bottle`, {
      suggestions: ['Point the plan\'s egress CA path at a file with the certificate alone.'],
    });
  }
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem);
  } catch (e) {
    throw new BottleError('PROVISIONER_FAILED', `${certPath} is not a PEM certificate: ${(e as Error).message}`, {
      suggestions: ['Remove the bottle\'s state dir so the launch makes a new CA: bottle gc, then bottle run again.'],
    });
  }
  return { subject: cert.subject.replace(/\n/g, ', '), fingerprint256: cert.fingerprint256 };
}

export default defineProvisioner({
  apiVersion: 1,
  name: 'ca',
  description: "installs the bottle's egress CA in the guest's trust store",
  async apply(ctx: ProvisionContext): Promise<void> {
    const { plan, target } = ctx;
    const hostCert = plan.host.caCertPath;
    const guestCert = plan.guest.caPath;
    const cert = await readCaCert(hostCert);
    await target.copyIn(hostCert, guestCert);
    // One exec, not three: a backend whose exec is slow to start (smolvm) pays that cost once.
    const p = shellWord(guestCert);
    const script = `chmod 644 ${p} && chown root:root ${p} && update-ca-certificates`;
    const r = await target.exec(['sh', '-c', script]);
    const output = [r.stdout.trim(), r.stderr.trim()].filter(Boolean);
    if (r.exitCode !== 0) {
      throw new BottleError('PROVISIONER_FAILED', `installing the egress CA in ${target.description} failed (exit ${r.exitCode})`, {
        details: output,
        suggestions: ['The bottle image needs the ca-certificates package (update-ca-certificates); rebuild it with `bottle image build`.'],
      });
    }
    // update-ca-certificates exits 0 even when it skipped the file; only "1 added" proves it took it.
    if (!/(^|[^0-9])1 added\b/.test(r.stdout)) {
      throw new BottleError('PROVISIONER_FAILED', `update-ca-certificates in ${target.description} did not add the egress CA (expected "1 added" in its output)`, {
        details: output,
        suggestions: [`Check that ${guestCert} ends in .crt and that the image's /etc/ca-certificates.conf does not exclude it; rebuild with \`bottle image build\`.`],
      });
    }
    ctx.log(`trusted ${cert.subject} (sha256 ${cert.fingerprint256}) at ${guestCert}`);
  },
});
