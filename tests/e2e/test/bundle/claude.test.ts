/**
 * A real client: Claude Code inside a bottle talks to "api.anthropic.com" through its gateway. The
 * route points that name at a test-made server that answers like the Messages API (streamed SSE),
 * and injects the key the bottle never holds. Claude Code 2.1.x, with
 * CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 (which every plan sets), asks for
 * GET /api/claude_code/settings and /api/claude_code/policy_limits (a 404 is fine), then sends
 * POST /v1/messages?beta=true with "stream": true and the key in x-api-key.
 */
import { randomBytes } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { SECRET_PLACEHOLDER } from '@bot-bottle/core';
import { auditEntry, inBottle, launchBottle, startWorld, type TestBottle, type World } from './helpers.js';

const test = suite('Claude Code in a bottle, through the gateway');

const KEY = `bbcanary-claude-${randomBytes(12).toString('hex')}`;
const ctx: { world?: World; b?: TestBottle } = {};

test.before(async () => {
  ctx.world = await startWorld();
  const manifest = {
    bottles: { dev: { egress: { routes: [{ host: 'api.anthropic.com', auth: { header: 'x-api-key', env: 'ANTHROPIC_API_KEY' }, to: ctx.world.upstream.url }] } } },
    agents: { demo: { bottle: 'dev', provisioners: [] } },
  };
  ctx.b = await launchBottle(ctx.world, manifest, { ANTHROPIC_API_KEY: KEY });
});

test.after(async () => {
  await ctx.b?.bottle.destroy().catch(() => undefined);
  await ctx.world?.cleanup();
});

test('claude -p "say hi" as user node prints the answer the test server streamed, sent with the injected key', async () => {
  const b = ctx.b!;
  const env = await inBottle(b, 'printf "%s|%s" "$ANTHROPIC_API_KEY" "$CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"');
  assert.is(env.stdout, `${SECRET_PLACEHOLDER}|1`);

  const r = await inBottle(b, 'cd /home/node/workspace && claude -p "say hi"', 180_000);
  assert.is(r.exitCode, 0, `claude failed:\n${r.stdout}\n${r.stderr}`);
  assert.is(r.stdout.trim(), 'Hello from the test upstream');

  const requests = await ctx.world!.upstream.requests();
  const messages = requests.filter((q) => q.method === 'POST' && q.url.startsWith('/v1/messages'));
  assert.ok(messages.length >= 1, `no Messages API call; the server saw: ${requests.map((q) => `${q.method} ${q.url}`).join(', ')}`);
  const call = messages[0]!;
  assert.is(call.url, '/v1/messages?beta=true');
  assert.is(call.headers['x-api-key'], KEY, 'the gateway injected the key');
  const body = JSON.parse(call.body) as { stream?: boolean; messages?: { content: unknown }[] };
  assert.is(body.stream, true, 'Claude Code asked for a stream');
  assert.match(JSON.stringify(body.messages), 'say hi');
  // Every request it made carried the real key and none the placeholder.
  for (const q of requests) assert.is(q.headers['x-api-key'], KEY, `${q.method} ${q.url}`);
  assert.not.ok(JSON.stringify(requests).includes(SECRET_PLACEHOLDER));

  const e = await auditEntry(b, (x) => x.method === 'POST' && x.path === '/v1/messages?beta=true');
  assert.equal([e.decision, e.host, e.status, e.rule, e.reason], ['allow', 'api.anthropic.com', 200, 'routes[0] api.anthropic.com', null]);
  assert.ok(e.bytes > 0 && e.bytesUp > 0);
});

test.run();
