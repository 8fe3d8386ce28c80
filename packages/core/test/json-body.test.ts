import http from 'node:http';
import type net from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readJsonBody, type JsonBody } from '@bot-bottle/core';

const test = suite('readJsonBody');

/** A real server on loopback that reads each body with a 64-byte cap, and one POST to it. */
async function post(body: string): Promise<JsonBody> {
  let got!: JsonBody;
  const server = http.createServer((req, res) => {
    void readJsonBody(req, 64).then((r) => {
      got = r;
      res.end('ok');
      if (!r.ok && r.problem === 'too-large') req.destroy();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body }).then((r) => r.text()).catch(() => undefined);
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  return got;
}

test('a JSON body within the cap is parsed', async () => {
  assert.equal(await post('{"routes":[1,2]}'), { ok: true, value: { routes: [1, 2] } });
});

test('a body that is not JSON, and one over the cap, are said to be so', async () => {
  assert.equal(await post('{"routes":'), { ok: false, problem: 'not-json' });
  assert.equal(await post(`"${'x'.repeat(200)}"`), { ok: false, problem: 'too-large' });
});

test.run();
