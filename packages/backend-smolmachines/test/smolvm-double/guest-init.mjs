// TEST DOUBLE (not smolvm): what the smolvm double runs as the "guest" side of a machine inside
// its docker container. It stands in for smolvm's guest agent in two ways only:
// - each `--mount-socket HOST:GUEST`: a listener at GUEST that, per connection, connects to the host
//   socket (bind-mounted read-only into the container) and relays both ways with half-close, as
//   smolvm's agent relays a guest connection over vsock; when the host socket is not there the
//   connection is accepted and then dropped, as smolvm's is;
// - the machine's workload (the command after `--` of `machine create`, else the image's
//   ENTRYPOINT+CMD), started once the listeners are up; the "VM" stays up when it exits.
// It writes /run/smolvm-double/started when both are done, which `machine start` waits for.
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

const spec = JSON.parse(Buffer.from(process.argv[2] ?? '', 'base64').toString('utf8'));

function relay(guest, host) {
  guest.on('error', () => guest.destroy());
  const upstream = net.connect({ path: host, allowHalfOpen: true });
  upstream.on('error', () => {
    upstream.destroy();
    guest.destroy();
  });
  upstream.on('connect', () => {
    guest.pipe(upstream);
    upstream.pipe(guest);
    guest.resume();
  });
  const closeBoth = () => {
    if (guest.writableEnded && upstream.writableEnded) {
      guest.destroy();
      upstream.destroy();
    }
  };
  guest.on('end', closeBoth);
  upstream.on('end', closeBoth);
  guest.on('close', () => upstream.destroy());
  upstream.on('close', () => guest.destroy());
}

async function listen(s) {
  mkdirSync(path.dirname(s.guest), { recursive: true });
  rmSync(s.guest, { force: true });
  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (c) => relay(c, s.host));
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(s.guest, resolve);
  });
  // Any guest user may connect, as smolvm makes its mounted sockets 777.
  chmodSync(s.guest, 0o777);
}

for (const s of spec.sockets) await listen(s);

let workload = null;
if (spec.workload.length) {
  workload = spawn(spec.workload[0], spec.workload.slice(1), { stdio: 'inherit', cwd: process.cwd() });
  workload.on('error', (e) => process.stderr.write(`smolvm double: the workload did not start: ${e.message}\n`));
  workload.on('exit', (code, sig) => process.stderr.write(`smolvm double: the workload exited (${code ?? sig})\n`));
}
writeFileSync('/run/smolvm-double/started', `${Date.now()}\n`);
process.on('SIGTERM', () => {
  workload?.kill('SIGTERM');
  process.exit(0);
});
// The listeners keep this process (the "VM") alive.
