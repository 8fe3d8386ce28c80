/**
 * skills: copies each skill the agent lists into the agent's skills dir in the guest, owned by the
 * agent user. A skill whose host dir is missing stops the launch before anything is copied, with
 * every place that was searched; a stale copy in the guest is removed first, so files deleted on
 * the host do not linger.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { BottleError, defineProvisioner, type ExecResult, type ProvisionContext, type SkillView } from '@bot-bottle/core/provisioner';

async function isDirectory(p: string): Promise<boolean> {
  return (await stat(p).catch(() => null))?.isDirectory() ?? false;
}

/** The skill's host dir as it is now: the plan looked before the launch; the disk may have changed. */
async function locate(skill: SkillView): Promise<string | null> {
  const candidates = skill.searched.length ? skill.searched : [skill.hostDir];
  for (const dir of candidates) if (await isDirectory(dir)) return dir;
  return null;
}

function check(r: ExecResult, argv: readonly string[], where: string): void {
  if (r.exitCode === 0) return;
  throw new BottleError('PROVISIONER_FAILED', `\`${argv.join(' ')}\` failed in ${where} (exit ${r.exitCode})`, {
    details: [r.stderr.trim() || r.stdout.trim()].filter(Boolean),
  });
}

export default defineProvisioner({
  apiVersion: 1,
  name: 'skills',
  description: "copies the agent's skills into its skills dir in the guest",
  async apply(ctx: ProvisionContext): Promise<void> {
    const { plan, target } = ctx;
    if (plan.skills.length === 0) return;

    const located: { skill: SkillView; hostDir: string }[] = [];
    const missing: SkillView[] = [];
    for (const skill of plan.skills) {
      const hostDir = await locate(skill);
      if (hostDir === null) missing.push(skill);
      else located.push({ skill, hostDir });
    }
    if (missing.length) {
      const names = missing.map((s) => `"${s.name}"`).join(', ');
      throw new BottleError('PROVISIONER_FAILED', `skill${missing.length > 1 ? 's' : ''} ${names} of agent "${plan.agentName}" not found`, {
        details: missing.map((s) => `${s.name}: searched ${(s.searched.length ? s.searched : [s.hostDir]).join(', ')}`),
        suggestions: [
          `Create the skill's folder (with its SKILL.md) in one of the places searched, or remove it from agents.${plan.agentName}.skills in ${plan.manifestPath}.`,
        ],
      });
    }

    const skillsDir = plan.guest.skillsDir;
    const owner = `${plan.guest.user}:${plan.guest.user}`;
    const mkdir = ['mkdir', '-p', skillsDir];
    // Inside the agent's home, the agent makes the dirs, so that any it creates (~/.claude itself on
    // an image without it) are its own: root-owned, they would lock Claude Code out of its config.
    const inHome = skillsDir.startsWith(`${plan.guest.home.replace(/\/+$/, '')}/`);
    const asAgent = { user: plan.guest.user, env: { HOME: plan.guest.home, USER: plan.guest.user } };
    check(await target.exec(mkdir, inHome ? asAgent : {}), mkdir, target.description);
    for (const { skill, hostDir } of located) {
      const guestDir = path.posix.join(skillsDir, skill.name);
      // copyIn lands a dir as guestDir itself only when guestDir does not exist yet.
      const rm = ['rm', '-rf', guestDir];
      check(await target.exec(rm), rm, target.description);
      await target.copyIn(hostDir, guestDir);
      const chown = ['chown', '-R', owner, guestDir];
      check(await target.exec(chown), chown, target.description);
      ctx.log(`skill ${skill.name}: ${hostDir} -> ${guestDir}`);
    }
  },
});
