/**
 * `bottle validate` checks what `bottle plan` checks about provisioners, against what is installed
 * here: unknown names (with the installed list and the install hint), `after` order, and options
 * against each provisioner's schema (the example plugin, linked into temp XDG dirs). Every problem of
 * every agent at once, one line each starting with its JSON path. No docker.
 */
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EXAMPLE_PLUGIN, cleanupTempDirs, hasStack, isolatedXdg, run, tempDir, validManifest, writeJson } from './helpers.js';

async function linked(): Promise<Record<string, string>> {
  const env = await isolatedXdg();
  const r = await run(['plugins', 'link', EXAMPLE_PLUGIN, '--no-install'], { env });
  assert.is(r.exitCode, 0, r.stderr);
  return env;
}

async function manifest(agents: Record<string, unknown[] | undefined>): Promise<string> {
  const m = validManifest();
  m.agents = Object.fromEntries(Object.entries(agents).map(([name, provisioners]) => [name, { bottle: 'dev', prompt: 'p', ...(provisioners ? { provisioners } : {}) }]));
  return writeJson(path.join(await tempDir('bottle-validate-'), 'bottle.json'), m);
}

function detailLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.startsWith('  ')).map((l) => l.slice(2));
}

const env0 = { ANTHROPIC_API_KEY: 'x' };
const test = suite('validate: provisioners');
test.after(cleanupTempDirs);

test('valid names, order and options (a plugin included, and the default list): ok', async () => {
  const env = { ...(await linked()), ...env0 };
  const file = await manifest({ demo: ['ca', { name: 'example', options: { motd: 'hi' } }, 'git'], plain: undefined });
  const r = await run(['validate', '--manifest', file], { env });
  assert.is(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, `${file}: ok, 1 bottle, 2 agents`);
});

test('an unknown name: refused like plan, with the installed list and the install hint', async () => {
  const env = { ...(await isolatedXdg()), ...env0 };
  const file = await manifest({ demo: ['ca', 'motd'] });
  const r = await run(['validate', '--manifest', file], { env });
  assert.is(r.exitCode, 2);
  assert.is(r.stdout, '');
  assert.is(
    r.stderr,
    `Error: ${file} is not valid with the provisioners installed here\n` +
      '  agents.demo.provisioners[1]: no installed provisioner is named "motd"; installed: ca, git, prompt, skills, supervise\n' +
      'Fix: Fix the name, or install the plugin that provides it: bottle plugins install <package> (`bottle provisioners` lists what is installed)\n',
  );
  // The same manifest at plan: the same problem (control: plan and validate agree).
  const p = await run(['plan', 'demo', '--manifest', file], { env });
  assert.is(p.exitCode, 2);
  assert.match(p.stderr, 'agents.demo.provisioners[1]: no installed provisioner is named "motd"');
  const json = await run(['validate', '--manifest', file, '--json'], { env });
  assert.is(json.exitCode, 2);
  assert.is(JSON.parse(json.stdout).error.code, 'PROVISIONER_UNKNOWN');
});

test('a plugin that is not installed here is unknown; once linked the same manifest validates', async () => {
  const file = await manifest({ demo: ['ca', { name: 'example', options: { motd: 'hi' } }] });
  const bare = await run(['validate', '--manifest', file], { env: { ...(await isolatedXdg()), ...env0 } });
  assert.is(bare.exitCode, 2);
  assert.match(bare.stderr, 'no installed provisioner is named "example"');
  const ok = await run(['validate', '--manifest', file], { env: { ...(await linked()), ...env0 } });
  assert.is(ok.exitCode, 0, ok.stderr);
});

test("invalid options against the plugin's schema and a built-in's: one line per problem, by path", async () => {
  const env = { ...(await linked()), ...env0 };
  const file = await manifest({ demo: ['ca', { name: 'example', options: { motd: '', colour: 'red' } }, { name: 'git', options: { depth: 1 } }] });
  const r = await run(['validate', '--manifest', file], { env });
  assert.is(r.exitCode, 2);
  const lines = detailLines(r.stderr);
  assert.ok(lines.includes('agents.demo.provisioners[1].options.motd: motd must not be empty'), r.stderr);
  assert.ok(lines.some((l) => l.startsWith('agents.demo.provisioners[1].options.colour: ')), r.stderr);
  assert.ok(lines.some((l) => l.startsWith('agents.demo.provisioners[2].options')), r.stderr);
  assert.match(r.stderr, 'Fix: See the options @bot-bottle/provisioner-example documents.');
  assert.not.ok(hasStack(r.stderr), r.stderr);
});

test('every problem of every agent at once: unknown, order and options, each on its own line', async () => {
  const env = { ...(await linked()), ...env0 };
  const file = await manifest({
    a: ['ca', 'nope'],
    b: ['example', 'ca'],
    c: [{ name: 'example', options: { motd: '' } }],
  });
  const r = await run(['validate', '--manifest', file], { env });
  assert.is(r.exitCode, 2);
  const lines = detailLines(r.stderr);
  assert.equal(lines.map((l) => l.slice(0, l.indexOf(': '))), [
    'agents.a.provisioners[1]',
    'agents.b.provisioners[0]',
    'agents.c.provisioners[0]',
    'agents.c.provisioners[0].options.motd',
  ]);
  assert.match(lines[1]!, 'must run after "ca", but "ca" comes later (at agents.b.provisioners[1])');
  assert.match(lines[2]!, 'must run after "ca", but "ca" is not in the list');
  const json = await run(['validate', '--manifest', file, '--json'], { env });
  assert.is(JSON.parse(json.stdout).error.code, 'MANIFEST_INVALID');
});

test.run();
