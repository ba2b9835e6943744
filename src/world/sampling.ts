/**
 * How the bundled world model is sampled by default: by the bot (`RENDER_DEFAULTS.world`),
 * the quality check (`checkQuality`), the merge comparison (`compareMerges`) and, through
 * the model folder's model_index.json (`MODEL_DEFAULTS_KEY`, written by
 * `writeWorldSamplingDefaults`), every render that names no settings (`zipbank render`).
 * Chosen by measurement (`npm run train:world -- --check-quality --per-combo 8
 * --guidance G --scheduler S`, README "Where the bundled model stands"): with its
 * config's PNDM at SD's guidance 7.5 this small model over-saturates, which erases the
 * soft styles, the backgrounds and half of the subjects; DPM++ 2M Karras does not.
 *
 * @example
 *   pipe.generate({ prompt, ...WORLD_SAMPLING });
 *   await writeWorldSamplingDefaults('models/world');
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MODEL_DEFAULTS_KEY } from '../engine/pipeline/options.ts';

export const WORLD_SAMPLING = { steps: 20, guidance: 6, scheduler: 'dpm++2m-karras' } as const;

/** Records `WORLD_SAMPLING` in a world model folder's model_index.json (diffusers' names). */
export async function writeWorldSamplingDefaults(folder: string): Promise<void> {
  const file = join(folder, 'model_index.json');
  const index = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  index[MODEL_DEFAULTS_KEY] = { num_inference_steps: WORLD_SAMPLING.steps, guidance_scale: WORLD_SAMPLING.guidance, scheduler: WORLD_SAMPLING.scheduler };
  await writeFile(file, `${JSON.stringify(index, null, 2)}\n`);
}
