import { describe, expect, it } from 'vitest';
import { isZipbankError } from '../../../../src/errors/index.ts';
import { moduleTable } from '../../../../src/engine/models/modules.ts';
import { readLora } from '../../../../src/engine/lora/read.ts';
import { synth, type Spec } from '../synth.ts';

const table = moduleTable('sd15');

/** The transformer blocks of SD 1.5 in a given section order. */
function blocks(sections: string[]): string[] {
  const all = [...table.keys()].filter((k) => k.endsWith('.attn1.to_q')).map((k) => k.slice(0, -'.attn1.to_q'.length));
  return sections.flatMap((s) => all.filter((b) => b.startsWith(`unet.${s}`)));
}

function walk(sections: string[], ffAfterAttn1: boolean): string[] {
  const attn = (b: string, a: string) => ['to_q', 'to_k', 'to_v', 'to_out.0'].map((x) => `${b}.${a}.${x}`);
  return blocks(sections).flatMap((b) =>
    ffAfterAttn1 ? [...attn(b, 'attn1'), `${b}.ff.net.0.proj`, ...attn(b, 'attn2')] : [...attn(b, 'attn1'), ...attn(b, 'attn2'), `${b}.ff.net.0.proj`],
  );
}

function safeloras(targets: string[], name = 'unet'): Spec {
  const spec: Spec = {};
  targets.forEach((t, i) => {
    const s = table.get(t)!;
    spec[`${name}:${i}:down`] = [1, s.inFeatures];
    spec[`${name}:${i}:up`] = [s.outFeatures, 1];
  });
  return spec;
}

const META = { unet: '["GEGLU", "CrossAttention", "Attention"]' };

describe('safeloras module walk', () => {
  it.each([
    [['down_blocks', 'up_blocks', 'mid_block'], true],
    [['down_blocks', 'mid_block', 'up_blocks'], true],
    [['down_blocks', 'up_blocks', 'mid_block'], false],
    [['down_blocks', 'mid_block', 'up_blocks'], false],
  ])('recovers the order %j (ff after attn1: %s) from shapes', async (sections, ff) => {
    const order = walk(sections, ff);
    const l = await readLora(synth(safeloras(order), META));
    expect(l.format).toBe('safeloras');
    expect(l.baseModel).toBe('sd15');
    const byKey = new Map(l.modules.map((m) => [m.key, m.target]));
    expect(order.every((t, i) => byKey.get(`unet:${i}`) === t)).toBe(true);
  });

  it('warns when the metadata ranks disagree with the tensors', async () => {
    const l = await readLora(synth(safeloras(walk(['down_blocks', 'up_blocks', 'mid_block'], true)), { ...META, 'unet:0:rank': '4', 'unet:1:rank': '1' }));
    expect(l.warnings).toContain('safeloras: metadata ranks disagree with the tensors for 1 module(s) (e.g. unet:0); using the tensors');
  });

  it('maps attention-only walks without the GEGLU', async () => {
    const order = walk(['down_blocks', 'up_blocks', 'mid_block'], true).filter((t) => !t.endsWith('ff.net.0.proj'));
    const l = await readLora(synth(safeloras(order), { unet: '["CrossAttention"]' }));
    expect(l.modules).toHaveLength(128);
  });

  it.each([
    ['a module missing from the walk', safeloras(walk(['down_blocks', 'up_blocks', 'mid_block'], true).slice(0, 143)), META, /fit no module walk/],
    ['a gap in the numbering', (() => { const s = safeloras(walk(['down_blocks', 'up_blocks', 'mid_block'], true)); delete s['unet:3:down']; delete s['unet:3:up']; return s; })(), META, /numbering has a gap/],
    ['classes it cannot place', safeloras(walk(['down_blocks', 'up_blocks', 'mid_block'], true)), { unet: '["Transformer2DModel"]' }, /cannot place \(Transformer2DModel\)/],
    ['a LoRA name other than unet/text_encoder', safeloras(walk(['down_blocks', 'up_blocks', 'mid_block'], true), 'vae'), {}, /named "vae"/],
    ['a class list that is not JSON', safeloras(walk(['down_blocks', 'up_blocks', 'mid_block'], true)), { unet: 'GEGLU' }, /not a list of module classes/],
  ] as [string, Spec, Record<string, string>, RegExp][])('refuses %s', async (_, spec, meta, message) => {
    const err = await readLora(synth(spec, meta)).catch((e: unknown) => e);
    expect(isZipbankError(err, 'lora.safeloras-order'), String(err)).toBe(true);
    expect((err as Error).message).toMatch(message);
  });
});
