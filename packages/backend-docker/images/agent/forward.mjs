// Runs as root inside the bottle: listens on loopback ports and pipes each connection to the
// matching unix socket of the bottle's own bundle. The bottle has no other way out.
import net from 'node:net';

const dir = process.env.BOT_BOTTLE_SOCKET_DIR || '/run/bot-bottle';
const map = { 3128: 'egress.sock', 9418: 'git.sock', 9100: 'supervise.sock' };
for (const [port, socket] of Object.entries(map)) {
  net
    .createServer({ noDelay: true }, (client) => {
      const upstream = net.connect(`${dir}/${socket}`);
      upstream.setNoDelay(true);
      client.pipe(upstream).pipe(client);
      const close = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('error', close);
      upstream.on('error', close);
    })
    .listen(Number(port), '127.0.0.1');
}
process.on('SIGTERM', () => process.exit(0));
