import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  BUNDLE_CPUS_MAX,
  BUNDLE_LIMITS,
  bundleLimits,
  DEFAULT_BOTTLE_PIDS,
  EXIT_USAGE,
  formatMemory,
  makePlan,
  parseMemory,
  resolveLimits,
  validateManifest,
  type HostResources,
} from '../src/index.js';
import { assertDetails, cleanupTempDirs, rejects, tempDir } from './helpers.js';

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;
/** A made-up machine, so that nothing here depends on the one running the tests. */
const HOST: HostResources = { memoryBytes: 16 * GIB, cpus: 8 };

const withLimits = (limits: unknown) => ({ bottles: { dev: { limits } }, agents: { demo: { bottle: 'dev' } } });

async function planOf(limits: unknown, host: HostResources = HOST) {
  const base = await tempDir('bottle-limits-');
  const loaded = await validateManifest(limits === undefined ? { bottles: { dev: {} }, agents: { demo: { bottle: 'dev' } } } : withLimits(limits), '<test>', base);
  return makePlan({ manifest: loaded, agentName: 'demo', copyCwd: false, userCwd: base }, { seed: 's', host, env: {}, home: base });
}

async function refusal(limits: unknown) {
  const base = await tempDir('bottle-limits-');
  return rejects(() => validateManifest(withLimits(limits), '<test>', base));
}

const test = suite('limits');
test.after(cleanupTempDirs);

test('memory sizes: m is MiB, g is GiB, any case, decimals; anything else is not a size', () => {
  assert.is(parseMemory('512m'), 512 * MIB);
  assert.is(parseMemory('4g'), 4 * GIB);
  assert.is(parseMemory(' 4G '), 4 * GIB);
  assert.is(parseMemory('1.5g'), 1.5 * GIB);
  for (const bad of ['4', '4gb', '4GiB', '4 g', 'g', '-1g', '1e3m', '0x10g', '4k', '4t', '', '1,5g']) assert.is(parseMemory(bad), null, bad);
  assert.is(formatMemory(4 * GIB), '4g');
  assert.is(formatMemory(1536 * MIB), '1536m');
});

test('no limits key: memory is half the machine, cpus every core, pids 4096, no swap beyond memory; each default is noted', async () => {
  const plan = await planOf(undefined);
  const b = plan.limits.bottle;
  assert.is(b.memoryBytes, 8 * GIB);
  assert.is(b.memory, '8g');
  assert.is(b.memorySwapBytes, b.memoryBytes);
  assert.is(b.cpus, 8);
  assert.is(b.pids, DEFAULT_BOTTLE_PIDS);
  assert.is(b.oomScoreAdj, 1000);
  assert.equal(plan.limits.requested, {});
  assert.equal(plan.limits.host, HOST);
  assert.is(plan.limits.notes.length, 3);
  assert.match(plan.limits.notes.join('\n'), /memory 8g: the default, half of the machine's 16g/);
  // The plan is what `bottle plan --json` prints: the limits survive a round trip.
  assert.equal(JSON.parse(JSON.stringify(plan)).limits, plan.limits);
});

test('half of an odd amount of memory is rounded down to whole MiB; a tiny machine still gets the 256m floor', async () => {
  assert.is((await planOf(undefined, { memoryBytes: 3 * GIB + 12345, cpus: 2 })).limits.bottle.memory, '1536m');
  assert.is((await planOf(undefined, { memoryBytes: 300 * MIB, cpus: 1 })).limits.bottle.memory, '256m');
});

test('the manifest sets each limit; only the absent ones are defaults', async () => {
  const plan = await planOf({ memory: '4g', cpus: 2, pids: 512 });
  assert.equal(
    { ...plan.limits.bottle },
    { memory: '4g', memoryBytes: 4 * GIB, memorySwapBytes: 4 * GIB, cpus: 2, cpuShares: 1024, pids: 512, oomScoreAdj: 1000 },
  );
  assert.equal(plan.limits.notes, []);
  const some = await planOf({ cpus: 0.5 });
  assert.is(some.limits.bottle.cpus, 0.5);
  assert.is(some.limits.bottle.memoryBytes, 8 * GIB);
  assert.is(some.limits.notes.length, 2);
});

test('cpus above the machine\'s cores are cut to the cores, and the plan says so', async () => {
  const plan = await planOf({ cpus: 64 });
  assert.is(plan.limits.bottle.cpus, 8);
  assert.ok(plan.limits.notes.some((n) => /limits\.cpus asks for 64, more than the machine's 8 cores/.test(n)), plan.limits.notes.join('\n'));
});

test('the bundle\'s limits are fixed by the machine alone: no manifest value reaches them', async () => {
  const small = await planOf({ memory: '256m', cpus: 0.01, pids: 256 });
  const same = await planOf({ memory: '1024g', cpus: 8, pids: 65536 });
  const big = await planOf({ memory: '1024g', cpus: 1024, pids: 65536 }, { memoryBytes: 2048 * GIB, cpus: 1024 });
  // Half the machine's cores, 1 to 4: the 8-core test machine gives 4, as does a huge one.
  assert.equal(small.limits.bundle, { ...BUNDLE_LIMITS, cpus: 4 });
  assert.equal(same.limits.bundle, small.limits.bundle);
  assert.equal(big.limits.bundle, { ...BUNDLE_LIMITS, cpus: BUNDLE_CPUS_MAX });
  assert.equal([1, 2, 3, 4, 6, 16].map((n) => bundleLimits(n).cpus), [1, 1, 1, 2, 3, 4]);
  // The bundle outlives its bottle: the OOM killer prefers the bottle, the scheduler the bundle.
  assert.ok(BUNDLE_LIMITS.oomScoreAdj < small.limits.bottle.oomScoreAdj);
  assert.ok(BUNDLE_LIMITS.cpuShares > small.limits.bottle.cpuShares);
  assert.is(BUNDLE_LIMITS.memorySwapBytes, BUNDLE_LIMITS.memoryBytes);
  assert.ok(Object.isFrozen(BUNDLE_LIMITS));
});

test('resolving again for another machine (a backend whose engine is a VM) uses that machine', () => {
  const again = resolveLimits({ memory: '2g' }, { memoryBytes: 4 * GIB, cpus: 2 });
  assert.is(again.bottle.memory, '2g');
  assert.is(again.bottle.cpus, 2);
  assert.is(resolveLimits({}, { memoryBytes: 4 * GIB, cpus: 2 }).bottle.memory, '2g');
});

const BAD: { name: string; limits: unknown; details: (RegExp | string)[] }[] = [
  { name: 'limits is an array', limits: [], details: ['bottles.dev.limits: expected an object but got an array'] },
  { name: 'limits is a string', limits: '4g', details: ['bottles.dev.limits: expected an object but got the string "4g"'] },
  { name: 'memory without a unit', limits: { memory: '4096' }, details: ['bottles.dev.limits.memory: memory must be like 512m or 4g (a number followed by m for MiB or g for GiB, in quotes), not "4096"'] },
  { name: 'memory as a number', limits: { memory: 4096 }, details: ['bottles.dev.limits.memory: memory must be like 512m or 4g (a number followed by m for MiB or g for GiB, in quotes), not 4096'] },
  { name: 'memory in GB', limits: { memory: '4GB' }, details: [/^bottles\.dev\.limits\.memory: memory must be like 512m or 4g .*, not "4GB"$/] },
  { name: 'memory null', limits: { memory: null }, details: [/^bottles\.dev\.limits\.memory: memory must be like 512m or 4g .*, not null$/] },
  { name: 'memory too small', limits: { memory: '64m' }, details: [/^bottles\.dev\.limits\.memory: memory must be at least 256m \(the bottle's own services and the agent need that much\), not "64m"$/] },
  { name: 'memory too large', limits: { memory: '2048g' }, details: [/^bottles\.dev\.limits\.memory: memory must be at most 1024g, not "2048g"; leave "memory" out for the default/] },
  { name: 'cpus zero', limits: { cpus: 0 }, details: ['bottles.dev.limits.cpus: cpus must be a number of cores from 0.01 to 1024, such as 2 or 0.5, not 0'] },
  { name: 'cpus negative', limits: { cpus: -2 }, details: [/^bottles\.dev\.limits\.cpus: cpus must be .*, not -2$/] },
  { name: 'cpus in quotes', limits: { cpus: '2' }, details: ['bottles.dev.limits.cpus: cpus must be a number of cores from 0.01 to 1024, such as 2 or 0.5, not the string "2"; write the number without quotes'] },
  { name: 'cpus as a word', limits: { cpus: 'all' }, details: [/^bottles\.dev\.limits\.cpus: cpus must be .*, not the string "all"$/] },
  { name: 'pids fractional', limits: { pids: 1000.5 }, details: [/^bottles\.dev\.limits\.pids: pids must be a whole number from 256 to 65536 \(the most processes and threads the bottle runs at once\), not 1000\.5$/] },
  { name: 'pids too low', limits: { pids: 10 }, details: [/^bottles\.dev\.limits\.pids: pids must be a whole number from 256 to 65536 .*, not 10$/] },
  { name: 'pids unlimited', limits: { pids: -1 }, details: [/^bottles\.dev\.limits\.pids: .*, not -1$/] },
  { name: 'pids as a boolean', limits: { pids: true }, details: [/^bottles\.dev\.limits\.pids: .*, not true$/] },
  { name: 'a misspelt key', limits: { memroy: '4g' }, details: ['bottles.dev.limits.memroy: unknown key "memroy"; did you mean "memory"? remove it or fix its spelling (allowed here: memory, cpus, pids)'] },
  { name: 'a key limits does not have', limits: { swap: '1g' }, details: [/^bottles\.dev\.limits\.swap: unknown key "swap"; remove it or fix its spelling \(allowed here: memory, cpus, pids\)$/] },
  { name: 'every value wrong at once', limits: { memory: '1', cpus: 'x', pids: 1 }, details: [/limits\.memory: /, /limits\.cpus: /, /limits\.pids: /] },
];

for (const c of BAD) {
  test(`refused with the path and the fix: ${c.name}`, async () => {
    const err = await refusal(c.limits);
    assert.is(err.code, 'MANIFEST_INVALID');
    assert.is(err.exit, EXIT_USAGE);
    assertDetails(err, c.details);
  });
}

test('a misspelt limits key on the bottle gets a hint', async () => {
  const base = await tempDir('bottle-limits-');
  const err = await rejects(() => validateManifest({ bottles: { dev: { limit: { memory: '4g' } } }, agents: { demo: { bottle: 'dev' } } }, '<test>', base));
  assertDetails(err, [/^bottles\.dev\.limit: unknown key "limit"; did you mean "limits"\? .*\blimits, .*\)$/]);
});

test('the edges of each range are accepted', async () => {
  for (const limits of [{ memory: '256m' }, { memory: '1024g' }, { memory: '0.25g' }, { cpus: 0.01 }, { cpus: 1024 }, { pids: 256 }, { pids: 65536 }, {}]) {
    const base = await tempDir('bottle-limits-');
    await validateManifest(withLimits(limits), '<test>', base);
  }
});

test.run();
