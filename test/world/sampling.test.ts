/**
 * The world model's sampling defaults: one set of numbers (`WORLD_SAMPLING`) shared by
 * the bot, the bundled model folder's model_index.json and the writer that records it.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderDefaults } from '../../src/bot/core/derive.ts';
import { BUNDLED_WORLD_MODEL } from '../../src/config.ts';
import { MODEL_DEFAULTS_KEY, parseModelRenderDefaults } from '../../src/engine/pipeline/options.ts';
import { WORLD_SAMPLING, writeWorldSamplingDefaults } from '../../src/world/sampling.ts';

const expected = { steps: WORLD_SAMPLING.steps, guidance: WORLD_SAMPLING.guidance, scheduler: WORLD_SAMPLING.scheduler };

describe('WORLD_SAMPLING', () => {
  it('is what the bundled model folder names as its defaults', async () => {
    const file = join(BUNDLED_WORLD_MODEL, 'model_index.json');
    const index = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
    expect(parseModelRenderDefaults(index, file)).toEqual(expected);
  });

  it("is the bot's default for the world model", () => {
    expect(renderDefaults('world')).toMatchObject(expected);
  });

  it('is written into model_index.json under diffusers names, keeping the other keys', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'zb-sampling-'));
    try {
      await writeFile(join(dir, 'model_index.json'), JSON.stringify({ _class_name: 'StableDiffusionPipeline', unet: ['diffusers', 'UNet2DConditionModel'] }));
      await writeWorldSamplingDefaults(dir);
      const index = JSON.parse(await readFile(join(dir, 'model_index.json'), 'utf8')) as Record<string, unknown>;
      expect(index['unet']).toEqual(['diffusers', 'UNet2DConditionModel']);
      expect(index[MODEL_DEFAULTS_KEY]).toEqual({ num_inference_steps: WORLD_SAMPLING.steps, guidance_scale: WORLD_SAMPLING.guidance, scheduler: WORLD_SAMPLING.scheduler });
      expect(parseModelRenderDefaults(index, 'x')).toEqual(expected);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
