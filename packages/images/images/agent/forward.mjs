// Runs as root inside the bottle: listens on loopback ports and pipes each connection to the
// matching unix socket of the bottle's own bundle. The bottle has no other way out.
//
// The bottle starts alongside its bundle, not after it: a connection made before the bundle is up
// waits (its bytes held) until the bundle writes `ready` in the shared socket dir, for up to
// BOT_BOTTLE_BUNDLE_WAIT_MS; once the bundle is ready, a missing socket is refused at once.
//
// Which port goes to which socket is core's BUNDLE_SERVICES table: the launcher passes it as
// arguments, `PORT=SOCKET` each. DEFAULT_MAP serves a bottle image started by hand; a unit test
// keeps it equal to the table.
import { existsSync } from 'node:fs';
import net from 'node:net';

const dir = process.env.BOT_BOTTLE_SOCKET_DIR || '/run/bot-bottle';
const waitMs = Number(process.env.BOT_BOTTLE_BUNDLE_WAIT_MS || 60_000);
const DEFAULT_MAP = { 3128: 'egress.sock', 9418: 'git.sock', 9100: 'supervise.sock' };

/** `PORT=SOCKET` arguments as a map; a socket is a plain name in the socket dir, never a path. */
function parseMap(args) {
  const map = {};
  for (const arg of args) {
    const m = /^(\d{1,5})=([A-Za-z0-9][A-Za-z0-9._-]*\.sock)$/.exec(arg);
    if (!m || Number(m[1]) < 1 || Number(m[1]) > 65535 || m[1] in map) {
      process.stderr.write(`forward: "${arg}" is not PORT=NAME.sock (one per port)\n`);
      process.exit(2);
    }
    map[m[1]] = m[2];
  }
  return map;
}

const args = process.argv.slice(2);
const map = args.length ? parseMap(args) : DEFAULT_MAP;

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
