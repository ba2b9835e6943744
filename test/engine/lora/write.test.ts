import { readFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { moduleTableFromConfigs } from '../../../src/engine/models/modules.ts';
import { presetRawConfigs } from '../../../src/engine/models/presets.ts';
import { randomLora } from '../../../src/engine/lora/random.ts';
import { readLora } from '../../../src/engine/lora/read.ts';
import { loraFactors } from '../../../src/engine/lora/tensors.ts';
import { encodeLora, writeLora } from '../../../src/engine/lora/write.ts';
import { SafetensorsFile } from '../../../src/engine/weights/safetensors.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'zipbank-lora-write-'));

describe('writeLora -> readLora round trip', () => {
  it.each([
    ['sd15', 'kohya', 'attn', 'kohya', 'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q'],
    ['sd15', 'peft', 'all', 'peft', 'unet.conv_in'],
    ['sdxl', 'kohya', 'attn', 'kohya', 'lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q'],
    ['sdxl', 'peft', 'attn', 'peft', 'unet.down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q'],
    ['sdxl', 'kohya', 'all', 'kohya-locon', 'lora_unet_input_blocks_0_0'],
  ] as const)('%s %s (%s)', async (family, format, targets, detected, firstKey) => {
    const lora = randomLora({ family, rank: 3, targets, seed: 7, alpha: 1.5 });
    lora.modules[1]!.alpha = 6;
    const file = path.join(dir, `${family}-${format}-${targets}.safetensors`);
    await writeLora(file, lora, format);
    const back = await readLora(file);
    expect(back.format).toBe(detected);
    expect(back.baseModel).toBe(family);
    expect(back.modules.map((m) => m.target).sort()).toEqual(lora.modules.map((m) => m.target).sort());
    expect(back.modules.some((m) => m.key === firstKey)).toBe(true);
    const st = await SafetensorsFile.open(file);
    const byTarget = new Map(back.modules.map((m) => [m.target, m]));
    const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
    for (const w of lora.modules) {
      const m = byTarget.get(w.target)!;
      expect([m.rank, m.alpha, m.scale]).toEqual([w.rank, w.alpha, w.alpha / w.rank]);
      expect(m.base).toEqual(w.base);
      const f = await loraFactors(st, m);
      expect(bytes(f.down).equals(bytes(w.down)), m.target).toBe(true);
      expect(bytes(f.up).equals(bytes(w.up)), m.target).toBe(true);
    }
    await st.close();
  });

  it('is deterministic for a seed, and seeds differ', () => {
    const a = encodeLora(randomLora({ family: 'sd15', rank: 2, seed: 1 }), 'kohya');
    const b = encodeLora(randomLora({ family: 'sd15', rank: 2, seed: 1 }), 'kohya');
    const c = encodeLora(randomLora({ family: 'sd15', rank: 2, seed: 2 }), 'kohya');
    expect(a.equals(b)).toBe(true);
    expect(a.equals(c)).toBe(false);
  });

  it('writes F16 factors and kohya ss_* metadata', async () => {
    const file = path.join(dir, 'f16.safetensors');
    await writeLora(file, randomLora({ family: 'sd15', rank: 4, seed: 3, dtype: 'F16' }), 'kohya');
    const back = await readLora(file);
    expect(back.dtypes).toEqual(['F16']);
    expect(back.summary).toMatchObject({ networkDim: 4, networkAlpha: 4, networkModule: 'networks.lora', claimedFamily: 'sd15' });
    expect(readFileSync(file).subarray(8, 200).toString()).toContain('"__metadata__"');
  });

  it('reads a custom model table (tiny SDXL) through the tables option', async () => {
    const table = moduleTableFromConfigs(presetRawConfigs('tiny-sdxl'));
    const file = path.join(dir, 'tiny.safetensors');
    await writeLora(file, { ...randomLora({ family: 'sdxl', rank: 2, seed: 4, table }), family: 'sdxl' }, 'peft');
    const back = await readLora(file, { tables: { sdxl: table } });
    expect(back.baseModel).toBe('sdxl');
    expect(back.modules.length).toBeGreaterThan(0);
  });
});
