// The benchmark's upstream, run as its own process by run.mjs: a Node HTTPS server on loopback with
// keep-alive, a small JSON answer on every path, and a streamed download on /big?mib=N (written
// with back-pressure from one reused buffer, so the upstream itself never holds the body).
// Usage: node upstream.mjs CERT.pem KEY.pem — prints {"port": N} on stdout once listening.
import https from 'node:https';
import { readFileSync } from 'node:fs';

const [certFile, keyFile] = process.argv.slice(2);
const MiB = 1024 * 1024;
const block = Buffer.alloc(64 * 1024, 'x');
const small = JSON.stringify({ ok: true, service: 'bench-upstream' });

const server = https.createServer(
  { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8'), keepAliveTimeout: 60_000, noDelay: true },
  (req, res) => {
    if (req.url?.startsWith('/big')) {
      const mib = Number(new URL(req.url, 'https://x').searchParams.get('mib') ?? 1);
      let left = mib * MiB;
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': left });
      const pump = () => {
        while (left > 0) {
          const n = Math.min(left, block.length);
          left -= n;
          if (!res.write(n === block.length ? block : block.subarray(0, n))) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
      return;
    }
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(small) });
      res.end(small);
    });
  },
);
server.listen(0, '127.0.0.1', () => process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n'));
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
