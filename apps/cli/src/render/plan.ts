/**
 * `bottle plan` as text: the resolved launch, provisioners in order with where each comes from,
 * the egress routes, git upstreams, skills, and what a launch would refuse. Pure: the command
 * gathers the plan, steps and base; this only lays them out.
 */
import type { BottlePlan, EgressRoute, ProvisionerRegistry, ResolvedStep } from '@bot-bottle/core';
import { describeImage, type BottleImageStatus, type ChoiceSource } from '@bot-bottle/images';

/** `image` is what the engine holds for the bottle's own image (absent: not checked). */
export function planLines(plan: BottlePlan, steps: readonly ResolvedStep[], registry: ProvisionerRegistry, base: readonly [string, ChoiceSource] | undefined, image?: BottleImageStatus): string[] {
  const out: string[] = [];
  const yesNo = (b: boolean) => (b ? 'yes' : 'no');
  out.push(`plan for agent ${plan.agentName} (bottle ${plan.bottleName})`);
  out.push(`  manifest     ${plan.manifestPath}`);
  out.push(`  slug         ${plan.slug}`);
  out.push(`  agent cli    ${plan.agent.cli}: ${plan.agent.description} (${plan.agent.installed}${plan.agent.package ? `, from ${plan.agent.package}` : ''})`);
  out.push(`  autonomy     ${plan.agent.permissionPrompts ? 'the agent asks its own permission prompts ("permissionPrompts": true)' : 'unattended: the agent\'s own permission prompts are off (the bottle is the sandbox)'}`);
  out.push(`  backend      ${plan.backend.name} (${plan.backend.source === 'flag' ? '--backend' : plan.backend.source === 'manifest' ? 'the bottle\'s "backend" key' : plan.backend.source})`);
  out.push(`  state dir    ${plan.stateDir}`);
  out.push(`  copy cwd     ${yesNo(plan.copyCwd)}${plan.copyCwd ? ` (${plan.userCwd})` : ''}`);
  out.push(`  supervise    ${plan.supervise ? 'on' : 'off'}`);
  const { bottle: lb, bundle: lu } = plan.limits;
  out.push(`  limits       bottle memory ${lb.memory} (no swap), cpus ${lb.cpus}, pids ${lb.pids}; bundle memory ${lu.memory}, cpus ${lu.cpus}, pids ${lu.pids}`);
  for (const note of plan.limits.notes) out.push(`               ${note}`);
  out.push(`  base image   ${base ? `${base[0]} (${base[1] === 'env' ? 'BOT_BOTTLE_BASE_IMAGE' : 'recorded'})` : 'not chosen yet: the launch detects it (or run `bottle image build`)'}`);
  if (plan.image.source === 'default') out.push('  image        bot-bottle\'s agent image (the bottle has no "image")');
  else {
    out.push(`  image        ${describeImage(plan.image).replace(/^image /, '')}, with bot-bottle's agent layer on top`);
    if (image) out.push(`               ${image.ok ? '' : 'MISSING: '}${image.state}${!image.ok && image.fix ? `; fix: ${image.fix}` : ''}`);
  }
  out.push('provisioners, in order:');
  steps.forEach((s, i) => {
    const reg = registry.get(s.definition.name)!;
    const opts = Object.keys(plan.provisioners[i]!.options).length ? ` options ${JSON.stringify(plan.provisioners[i]!.options)}` : '';
    out.push(`  ${i + 1}. ${s.definition.name.padEnd(12)} ${reg.packageName}@${reg.packageVersion} (${reg.builtIn ? 'built-in' : 'plugin'})${opts}`);
  });
  out.push('egress (everything else is refused):');
  if (plan.egress.routes.length === 0) out.push('  no routes');
  if (plan.egress.presets.length) out.push(`  presets ${plan.egress.presets.map((p) => (p.to ? `${p.name} (-> ${p.to})` : p.name)).join(', ')}, expanded below`);
  for (const r of plan.egress.routes) out.push(`  ${routeSummary(r)}`);
  out.push('git upstreams:');
  if (plan.gitGate.upstreams.length === 0) out.push('  none');
  for (const u of plan.gitGate.upstreams) {
    if (u.only && plan.workBack) out.push(`  ${u.name}  the host repo ${plan.workBack.hostRepo} (the workspace's origin; pushes only to ${plan.workBack.namespace}/*, brought home when the bottle ends)`);
    else out.push(`  ${u.name}  ${u.upstream}${u.identityFile ? `  key ${u.identityFile}` : ''}${u.push ? '' : '  (fetch only)'}`);
  }
  if (plan.skills.length) {
    out.push('skills:');
    for (const s of plan.skills) out.push(`  ${s.name}  ${s.found ? s.hostDir : `NOT FOUND (looked in ${s.searched.join(', ')})`}`);
  }
  if (plan.launchProblems.length) {
    out.push('`bottle run` would refuse to start until these are fixed:');
    for (const p of plan.launchProblems) out.push(`  ${p}`);
  }
  return out;
}

/** One route on one line: host, where it goes, methods, paths, and what it injects. */
export function routeSummary(r: EgressRoute): string {
  const parts = [r.host];
  if (r.to) parts.push(`-> ${r.to}`);
  if (r.methods) parts.push(`methods ${r.methods.join(',')}`);
  if (r.paths) parts.push(`paths ${r.paths.join(',')}`);
  if (r.auth) parts.push(`${r.auth.header} from $${r.auth.env} (injected by the gateway)`);
  return parts.join('  ');
}
