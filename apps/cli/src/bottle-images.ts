/**
 * The images a manifest's bottles name (their "image" keys), for `bottle image build`, `bottle plan`
 * and `bottle doctor`: each bottle's resolved image, once per distinct image, and what the engine
 * holds for it.
 */
import { discoverManifest, isBottleError, loadManifest, resolveBottleImage, type ImagePlan, type LoadedManifest } from '@bot-bottle/core';
import { bottleImageStatus, describeImage, type BottleImageStatus } from '@bot-bottle/images';

export interface NamedImage {
  /** The bottles that name this image (the first one's key is in `image.key`). */
  bottles: string[];
  image: ImagePlan;
}

/** The user images of a manifest's bottles, one entry per distinct image, in manifest order. */
export function manifestImages(loaded: LoadedManifest): NamedImage[] {
  const byImage = new Map<string, NamedImage>();
  for (const [name, bottle] of Object.entries(loaded.manifest.bottles)) {
    const { plan } = resolveBottleImage(name, bottle.image, loaded.baseDir);
    if (plan.source === 'default') continue;
    const { key: _key, ...same } = plan;
    const id = JSON.stringify(same);
    const seen = byImage.get(id);
    if (seen) seen.bottles.push(name);
    else byImage.set(id, { bottles: [name], image: plan });
  }
  return [...byImage.values()];
}

/** The manifest a command would use, or null when there is none (and none was asked for). */
export async function optionalManifest(flag: string | undefined): Promise<LoadedManifest | null> {
  try {
    const found = await discoverManifest({ flag });
    return await loadManifest(found.path);
  } catch (e) {
    if (!flag && isBottleError(e) && e.code === 'MANIFEST_NOT_FOUND') return null;
    throw e;
  }
}

/** The status of a bottle's image; an engine that cannot answer is a status too, never a crash. */
export async function imageStatus(image: ImagePlan): Promise<BottleImageStatus> {
  try {
    return await bottleImageStatus(image);
  } catch (e) {
    if (!isBottleError(e)) throw e;
    const state = `not checked (${e.message})`;
    return { ok: false, state, detail: `${describeImage(image)}: ${state}`, ...(e.suggestions[0] ? { fix: e.suggestions[0] } : {}) };
  }
}
