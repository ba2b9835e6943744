/**
 * Merging without densifying, and exporting: direct merges (paper Eq. 1) and zipped
 * merges with merger vectors, written as kohya and PEFT files, read back with the
 * engine's own reader; every module's reconstructed ΔW equals the formula
 * Σ_k w_k s_k B_k A_k diag(m_k) computed densely here (max |diff| <= 1e-5 · max |ΔW|).
 * Also the merger-vector file and the merge record in the metadata.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isZipbankError } from '../../../src/errors/index.ts';
import { layoutOf } from '../../../src/engine/lora/keymap-sdxl.ts';
import { checkMergersFit, mergeLoras, mergeRecord } from '../../../src/engine/lora/merge.ts';
import { readMergers, roleCoefficients, writeMergers } from '../../../src/engine/lora/mergers.ts';
import type { LoraSource } from '../../../src/engine/lora/plan.ts';
import { denseDelta } from '../../../src/engine/lora/tensors.ts';
import type { LoraFile } from '../../../src/engine/lora/types.ts';
import { writeLora } from '../../../src/engine/lora/write.ts';
import { hashSafetensors, readSafetensorsHeader, SafetensorsFile } from '../../../src/engine/weights/safetensors.ts';
import { fixture } from '../../support/paths.ts';
import { readTiny, tinyLora, tinyTable, type TinyId } from './apply-support.ts';
import { values } from './synth.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'zipbank-merge-'));
const TOL = 1e-5;

/** The update a module applies (scale · dW), by target. */
async function deltas(lora: LoraFile): Promise<Map<string, Float32Array>> {
  const st = await SafetensorsFile.open(lora.path);
  const out = new Map<string, Float32Array>();
  for (const m of lora.modules) out.set(m.target, (await denseDelta(st, m)).data.map((v) => v * m.scale));
  await st.close();
  return out;
}

/** Σ_k w_k (s_k dW_k) diag(m_k), densely. */
async function expected(sources: LoraSource[]): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const s of sources) {
    for (const [target, d] of await deltas(s.lora)) {
      const m = s.lora.modules.find((x) => x.target === target)!;
      const kk = m.base.kernel[0] * m.base.kernel[1];
      const cols = m.base.inFeatures * kk;
      const coeff = s.coefficients?.get(target);
      const acc = out.get(target) ?? new Float32Array(d.length);
      for (let i = 0; i < d.length; i++) acc[i]! += (s.weight ?? 1) * d[i]! * (coeff ? coeff[Math.floor((i % cols) / kk)]! : 1);
      out.set(target, acc);
    }
  }
  return out;
}

function maxAbs(a: Float32Array): number {
  return a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
}

const CASES: { id: TinyId; format: 'kohya' | 'peft'; method: 'direct' | 'ziplora' }[] = [
  { id: 'tiny-sd15', format: 'kohya', method: 'direct' },
  { id: 'tiny-sd15', format: 'peft', method: 'ziplora' },
  { id: 'tiny-sdxl', format: 'kohya', method: 'ziplora' },
  { id: 'tiny-sdxl', format: 'peft', method: 'direct' },
];

describe.each(CASES)('$method merge of two $id LoRAs as $format', ({ id, format, method }) => {
  it('writes rank r_c + r_s factors whose ΔW equals the formula for every module, and records the merge', async () => {
    const subject = await tinyLora(id, { rank: 3, alpha: 6, targets: 'all', seed: 11, components: ['unet', id === 'tiny-sd15' ? 'text_encoder' : 'text_encoder_2'] });
    const style = await tinyLora(id, { rank: 5, alpha: 2, targets: 'attn', seed: 12 }, 'peft');
    const sources: LoraSource[] = [
      { lora: subject, weight: 1 },
      { lora: style, weight: 0.6 },
    ];
    let coefficientsFile: string | undefined;
    if (method === 'ziplora') {
      const vectors = new Map<string, Float32Array[]>();
      const unet = (l: LoraFile) => l.modules.filter((m) => m.component === 'unet');
      for (const [i, m] of unet(subject).entries()) vectors.set(m.target, [values(m.base.inFeatures, 1 + i).map((v) => 1 + v), new Float32Array(m.base.inFeatures).fill(1)]);
      for (const [i, m] of unet(style).entries()) {
        const mc = vectors.get(m.target)?.[0] ?? new Float32Array(m.base.inFeatures).fill(1);
        vectors.set(m.target, [mc, values(m.base.inFeatures, 500 + i)]);
      }
      coefficientsFile = path.join(dir, `${id}-${format}-zip.safetensors`);
      await writeMergers(coefficientsFile, { roles: ['subject', 'style'], vectors, metadata: { note: 'test' } });
      const back = await readMergers(coefficientsFile);
      expect(back.roles).toEqual(['subject', 'style']);
      expect(back.metadata).toEqual({ note: 'test' });
      checkMergersFit(coefficientsFile, back.vectors, sources);
      sources.forEach((s, k) => (s.coefficients = roleCoefficients(back, k)));
    }
    const merged = await mergeLoras(sources, { method, roles: ['subject', 'style'], layout: layoutOf(tinyTable(id).keys()), ...(coefficientsFile ? { coefficientsFile } : {}) });
    const file = path.join(dir, `${id}-${format}-${method}.safetensors`);
    await writeLora(file, merged, format);

    const back = await readTiny(id, file);
    expect(back.format).toBe(format === 'kohya' ? 'kohya-locon' : 'peft');
    const targets = new Set([...subject.modules, ...style.modules].map((m) => m.target));
    expect(back.modules.map((m) => m.target).sort()).toEqual([...targets].sort());
    for (const m of back.modules) {
      const r = (subject.modules.find((x) => x.target === m.target)?.rank ?? 0) + (style.modules.find((x) => x.target === m.target)?.rank ?? 0);
      expect([m.rank, m.scale], m.target).toEqual([r, 1]);
    }
    const want = await expected(sources);
    const got = await deltas(back);
    for (const [target, w] of want) {
      const g = got.get(target)!;
      const diff = g.reduce((mx, v, i) => Math.max(mx, Math.abs(v - w[i]!)), 0);
      expect(diff / maxAbs(w), target).toBeLessThan(TOL);
    }

    const record = mergeRecord(back.metadata)!;
    expect(record.method).toBe(method);
    const hash = async (p: string) => (await hashSafetensors(await readSafetensorsHeader(p))).tensorSha256;
    expect(record.sources).toEqual([
      { role: 'subject', file: path.basename(subject.path), tensorSha256: await hash(subject.path), format: 'kohya-locon', baseModel: subject.baseModel, weight: 1, modules: subject.modules.length },
      { role: 'style', file: path.basename(style.path), tensorSha256: await hash(style.path), format: 'peft', baseModel: style.baseModel, weight: 0.6, modules: style.modules.length },
    ]);
    if (coefficientsFile) expect(record.coefficients).toEqual({ file: path.basename(coefficientsFile), tensorSha256: await hash(coefficientsFile) });
    else expect(record.coefficients).toBeUndefined();
  });
});

describe('refusals', () => {
  it('refuses LoHa/LoKr modules: merging never forms dense updates', async () => {
    const lokr = await import('../../../src/engine/lora/read.ts').then((m) => m.readLora(fixture('lora', 'sd1_kohya-lycoris-lokr_dim4_smart_falcon.safetensors')));
    const e = await mergeLoras([{ lora: lokr }, { lora: lokr }], { method: 'direct' }).catch((x: unknown) => x);
    expect(isZipbankError(e, 'lora.merge-algo')).toBe(true);
    expect((e as Error).message).toMatch(/is lokr, not a low-rank LoRA/);
  });

  it('refuses LoRAs of different base models', async () => {
    const a = await tinyLora('tiny-sd15', { rank: 2, seed: 1 });
    const b = await tinyLora('tiny-sdxl', { rank: 2, seed: 1 });
    const e = await mergeLoras([{ lora: a }, { lora: b }], { method: 'direct' }).catch((x: unknown) => x);
    expect(isZipbankError(e, 'lora.merge-family')).toBe(true);
    expect((e as Error).message).toContain('SD 1.5 and SDXL');
  });

  it.each([
    ['a module neither LoRA adapts', 'unet.conv_in', 4, /which none of .* adapts/],
    ['a vector of the wrong length', 'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q', 7, /has 7 values; the module has 32 input features/],
  ])('refuses merger vectors for %s', async (_name, target, n, text) => {
    const a = await tinyLora('tiny-sd15', { rank: 2, seed: 3 });
    const e = (() => {
      try {
        checkMergersFit('zip.safetensors', new Map([[target, [new Float32Array(n), new Float32Array(n)]]]), [{ lora: a }]);
      } catch (x) {
        return x;
      }
    })();
    expect(isZipbankError(e, 'lora.bad-mergers')).toBe(true);
    expect((e as Error).message).toMatch(text);
  });

  it('refuses a LoRA file given as merger vectors', async () => {
    const a = await tinyLora('tiny-sd15', { rank: 2, seed: 3 });
    const e = await readMergers(a.path).catch((x: unknown) => x);
    expect(isZipbankError(e, 'lora.bad-mergers')).toBe(true);
    expect((e as Error).message).toContain('is it a LoRA rather than a merger file?');
  });
});
