// bot-bottle's stand-in for Debian's update-ca-certificates, on images without the ca-certificates
// package: the same contract as the original for what the ca provisioner does with it. Every
// *.crt under /usr/local/share/ca-certificates is linked into /etc/ssl/certs as <name>.pem and the
// bundle /etc/ssl/certs/ca-certificates.crt is written from them; it prints "N added, M removed;
// done." as Debian's does (the provisioner checks for "1 added"). --fresh drops every link first.
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const LOCAL = '/usr/local/share/ca-certificates';
const CERTS = '/etc/ssl/certs';
const BUNDLE = path.join(CERTS, 'ca-certificates.crt');
const fresh = process.argv.includes('--fresh') || process.argv.includes('-f');
const verbose = process.argv.includes('--verbose') || process.argv.includes('-v');

function crts(dir, rel = '') {
  const out = [];
  for (const e of existsSync(dir) ? readdirSync(dir, { withFileTypes: true }) : []) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...crts(p, path.join(rel, e.name)));
    else if (e.name.endsWith('.crt')) out.push({ file: p, link: path.join(CERTS, `${path.join(rel, e.name).replace(/\//g, '_').replace(/\.crt$/, '')}.pem`) });
  }
  return out.sort((a, b) => (a.file < b.file ? -1 : 1));
}

process.stdout.write(`Updating certificates in ${CERTS}...\n`);
mkdirSync(CERTS, { recursive: true });
const linkOf = (p) => {
  try {
    return lstatSync(p).isSymbolicLink() ? readlinkSync(p) : null;
  } catch {
    return null;
  }
};
let removed = 0;
const wanted = crts(LOCAL);
for (const e of readdirSync(CERTS)) {
  const p = path.join(CERTS, e);
  const to = linkOf(p);
  if (to === null) continue;
  if (fresh || (to.startsWith(`${LOCAL}/`) && !wanted.some((w) => w.file === to && w.link === p))) {
    rmSync(p, { force: true });
    if (!fresh) removed++;
  }
}
let added = 0;
for (const { file, link } of wanted) {
  if (linkOf(link) === file) continue;
  rmSync(link, { force: true });
  symlinkSync(file, link);
  if (verbose) process.stdout.write(`Adding ${path.basename(link)}\n`);
  added++;
}
const pems = wanted.map(({ file }) => {
  const text = readFileSync(file, 'utf8');
  return text.endsWith('\n') ? text : `${text}\n`;
});
writeFileSync(BUNDLE, pems.join(''), { mode: 0o644 });
process.stdout.write(`${added} added, ${removed} removed; done.\n`);
