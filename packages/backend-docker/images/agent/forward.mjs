// Runs as root inside the bottle: listens on loopback ports and pipes each connection to the
// matching unix socket of the bottle's own bundle. The bottle has no other way out.
//
// The bottle starts alongside its bundle, not after it: a connection made before the bundle is up
// waits (its bytes held) until the bundle writes `ready` in the shared socket dir, for up to
// BOT_BOTTLE_BUNDLE_WAIT_MS; once the bundle is ready, a missing socket is refused at once.
import { existsSync } from 'node:fs';
import net from 'node:net';

const dir = process.env.BOT_BOTTLE_SOCKET_DIR || '/run/bot-bottle';
const waitMs = Number(process.env.BOT_BOTTLE_BUNDLE_WAIT_MS || 60_000);
const map = { 3128: 'egress.sock', 9418: 'git.sock', 9100: 'supervise.sock' };

function connect(client, socket, deadline) {
  const upstream = net.connect(`${dir}/${socket}`);
  upstream.once('error', (e) => {
    const notYet = (e.code === 'ENOENT' || e.code === 'ECONNREFUSED') && !existsSync(`${dir}/ready`) && Date.now() < deadline;
    if (notYet && !client.destroyed) setTimeout(() => connect(client, socket, deadline), 20);
    else client.destroy();
  });
  upstream.once('connect', () => {
    upstream.setNoDelay(true);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream).pipe(client);
    client.resume();
  });
}

for (const [port, socket] of Object.entries(map)) {
  net
    .createServer({ noDelay: true, pauseOnConnect: true }, (client) => {
      client.on('error', () => client.destroy());
      connect(client, socket, Date.now() + waitMs);
    })
    .listen(Number(port), '127.0.0.1');
}
process.on('SIGTERM', () => process.exit(0));
