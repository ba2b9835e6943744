import { describe, expect, it } from 'vitest';
import { readLora } from '../../../src/engine/lora/read.ts';
import { cpWeight, denseDelta, kron, loraFactors, matmul } from '../../../src/engine/lora/tensors.ts';
import type { LoraModule } from '../../../src/engine/lora/types.ts';
import { SafetensorsFile } from '../../../src/engine/weights/safetensors.ts';
import { fixture } from '../../support/paths.ts';
import { synth, type Spec } from './synth.ts';

/** Reference implementations written from the definitions, index by index (float64). */
const ref = {
  mm(a: ArrayLike<number>, b: ArrayLike<number>, m: number, k: number, n: number): number[] {
    const c: number[] = [];
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a[i * k + p]! * b[p * n + j]!;
      c.push(s);
    }
    return c;
  },
  kron(a: ArrayLike<number>, p: number, q: number, b: ArrayLike<number>, r: number, s: number): number[] {
    const out: number[] = [];
    for (let i = 0; i < p * r; i++) for (let j = 0; j < q * s; j++) {
      out.push(a[Math.floor(i / r) * q + Math.floor(j / s)]! * b[(i % r) * s + (j % s)]!);
    }
    return out;
  },
  /** W[p, q, k] = Σ_ij t[i, j, k] wa[i, p] wb[j, q]. */
  cp(t: ArrayLike<number>, r1: number, r2: number, kk: number, wa: ArrayLike<number>, P: number, wb: ArrayLike<number>, Q: number): number[] {
    const out: number[] = [];
    for (let p = 0; p < P; p++) for (let q = 0; q < Q; q++) for (let k = 0; k < kk; k++) {
      let s = 0;
      for (let i = 0; i < r1; i++) for (let j = 0; j < r2; j++) s += t[(i * r2 + j) * kk + k]! * wa[i * P + p]! * wb[j * Q + q]!;
      out.push(s);
    }
    return out;
  },
};

function close(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-5): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!));
  expect(worst).toBeLessThan(tol);
}

async function open(spec: Spec): Promise<{ st: SafetensorsFile; modules: LoraModule[] }> {
  const path = synth(spec);
  return { st: await SafetensorsFile.open(path), modules: (await readLora(path)).modules };
}

describe('linear algebra', () => {
  const a = Float32Array.from([1, 2, 3, 4, 5, 6]);
  const b = Float32Array.from([7, 8, 9, 10, 11, 12]);
  it('matmul', () => close(matmul(a, b, 2, 3, 2), ref.mm(a, b, 2, 3, 2)));
  it('kron', () => close(kron(a, 2, 3, b, 3, 2), ref.kron(a, 2, 3, b, 3, 2)));
  it('cp', () => {
    const t = Float32Array.from({ length: 2 * 3 * 4 }, (_, i) => Math.sin(i));
    const wa = Float32Array.from({ length: 2 * 5 }, (_, i) => Math.cos(i));
    const wb = Float32Array.from({ length: 3 * 6 }, (_, i) => i / 10 - 1);
    close(cpWeight(t, [2, 3, 2, 2], wa, 5, wb, 6), ref.cp(t, 2, 3, 4, wa, 5, wb, 6));
  });
});

describe('denseDelta reconstructs dW exactly', () => {
  const key = 'lora_unet_down_blocks_0_resnets_0_conv1';
  it('LoRA: up @ down', async () => {
    const { st, modules } = await open({ 'lora_te_text_model_encoder_layers_0_mlp_fc1.lora_down.weight': [3, 768], 'lora_te_text_model_encoder_layers_0_mlp_fc1.lora_up.weight': [3072, 3] });
    const m = modules[0]!;
    const [d, u] = [await st.readFloat32(m.down!.name), await st.readFloat32(m.up!.name)];
    const dw = await denseDelta(st, m);
    expect(dw.shape).toEqual([3072, 768]);
    close(dw.data, ref.mm(u, d, 3072, 3, 768));
    await st.close();
  });

  it('LoCon with a CP core: up · mid · down', async () => {
    const { st, modules } = await open({ [`${key}.lora_down.weight`]: [2, 320, 1, 1], [`${key}.lora_mid.weight`]: [2, 2, 3, 3], [`${key}.lora_up.weight`]: [320, 2, 1, 1] });
    const m = modules[0]!;
    const [d, mid, u] = [await st.readFloat32(m.down!.name), await st.readFloat32(m.mid!.name), await st.readFloat32(m.up!.name)];
    // dW[i, j, k] = Σ_nm up[i, n] mid[n, m, k] down[m, j]  ==  cp(mid, wa = upᵀ, wb = down)
    const upT = Float32Array.from({ length: 2 * 320 }, (_, x) => u[(x % 320) * 2 + Math.floor(x / 320)]!);
    const expected = ref.cp(mid, 2, 2, 9, upT, 320, d, 320);
    const dw = await denseDelta(st, m);
    expect(dw.shape).toEqual([320, 320, 3, 3]);
    close(dw.data, expected);
    const f = await loraFactors(st, m);
    expect([f.rank, f.down.length, f.up.length]).toEqual([2, 2 * 320 * 9, 320 * 2]);
    await st.close();
  });

  it('LoHa: (w1a @ w1b) ⊙ (w2a @ w2b)', async () => {
    const k = 'lora_te_text_model_encoder_layers_1_self_attn_v_proj';
    const { st, modules } = await open({ [`${k}.hada_w1_a`]: [768, 2], [`${k}.hada_w1_b`]: [2, 768], [`${k}.hada_w2_a`]: [768, 3], [`${k}.hada_w2_b`]: [3, 768] });
    const r = async (n: string) => st.readFloat32(`${k}.${n}`);
    const w1 = ref.mm(await r('hada_w1_a'), await r('hada_w1_b'), 768, 2, 768);
    const w2 = ref.mm(await r('hada_w2_a'), await r('hada_w2_b'), 768, 3, 768);
    close((await denseDelta(st, modules[0]!)).data, w1.map((x, i) => x * w2[i]!));
    expect(modules[0]!.rank).toBe(2);
    await st.close();
  });

  it('LoHa with CP cores on a 3x3 conv', async () => {
    const { st, modules } = await open({
      [`${key}.hada_t1`]: [2, 2, 3, 3], [`${key}.hada_w1_a`]: [2, 320], [`${key}.hada_w1_b`]: [2, 320],
      [`${key}.hada_t2`]: [2, 2, 3, 3], [`${key}.hada_w2_a`]: [2, 320], [`${key}.hada_w2_b`]: [2, 320],
    });
    const r = async (n: string) => st.readFloat32(`${key}.${n}`);
    const w1 = ref.cp(await r('hada_t1'), 2, 2, 9, await r('hada_w1_a'), 320, await r('hada_w1_b'), 320);
    const w2 = ref.cp(await r('hada_t2'), 2, 2, 9, await r('hada_w2_a'), 320, await r('hada_w2_b'), 320);
    close((await denseDelta(st, modules[0]!)).data, w1.map((x, i) => x * w2[i]!));
    await st.close();
  });

  it('LoKr: kron(w1, w2_a @ w2_b) and kron(w1, cp(t2, w2_a, w2_b)) on a conv', async () => {
    const k2 = 'lora_te_text_model_encoder_layers_2_mlp_fc2';
    const { st, modules } = await open({
      [`${k2}.lokr_w1`]: [4, 8], [`${k2}.lokr_w2_a`]: [192, 2], [`${k2}.lokr_w2_b`]: [2, 384],
      [`${key}.lokr_w1`]: [8, 8], [`${key}.lokr_t2`]: [2, 2, 3, 3], [`${key}.lokr_w2_a`]: [2, 40], [`${key}.lokr_w2_b`]: [2, 40],
    });
    const r = async (n: string) => st.readFloat32(n);
    const lin = modules.find((m) => m.key === k2)!;
    const w2 = ref.mm(await r(`${k2}.lokr_w2_a`), await r(`${k2}.lokr_w2_b`), 192, 2, 384);
    close((await denseDelta(st, lin)).data, ref.kron(await r(`${k2}.lokr_w1`), 4, 8, w2, 192, 384));
    const conv = modules.find((m) => m.key === key)!;
    const w2c = ref.cp(await r(`${key}.lokr_t2`), 2, 2, 9, await r(`${key}.lokr_w2_a`), 40, await r(`${key}.lokr_w2_b`), 40);
    // 4-D kron: dW[a·40+b, c·40+d, k] = w1[a, c] · W2[b, d, k]
    const expected: number[] = [];
    const w1 = await r(`${key}.lokr_w1`);
    for (let i = 0; i < 320; i++) for (let j = 0; j < 320; j++) for (let x = 0; x < 9; x++) {
      expected.push(w1[Math.floor(i / 40) * 8 + Math.floor(j / 40)]! * w2c[((i % 40) * 40 + (j % 40)) * 9 + x]!);
    }
    const dw = await denseDelta(st, conv);
    expect(dw.shape).toEqual([320, 320, 3, 3]);
    close(dw.data, expected);
    await st.close();
  });

  it('full diff: the tensor itself', async () => {
    const { st, modules } = await open({ 'lora_unet_conv_in.diff': [320, 4, 3, 3] });
    close((await denseDelta(st, modules[0]!)).data, await st.readFloat32('lora_unet_conv_in.diff'));
    await st.close();
  });
});

describe('denseDelta on the real F16 LoKr file (values from numpy, float64)', () => {
  it.each([
    ['lora_unet_down_blocks_1_resnets_0_conv1', [640, 320, 3, 3], 22.00929567923612, 5083.783923818355, [[5 * 2880 + 7 * 9 + 1 * 3 + 2, -0.0015814166445352689], [600 * 2880 + 300 * 9 + 2 * 3, -0.004857619420275974]]],
    ['lora_te_text_model_encoder_layers_0_mlp_fc1', [3072, 768], 10.75222169930843, 5094.359905449812, [[100 * 768 + 200, 0.001367707328814416], [3000 * 768 + 700, -0.00016460623508745135]]],
  ] as const)('%s', async (key, shape, sum, absSum, points) => {
    const path = fixture('lora', 'sd1_kohya-lycoris-lokr_dim4_smart_falcon.safetensors');
    const lora = await readLora(path);
    const st = await SafetensorsFile.open(path);
    const dw = await denseDelta(st, lora.modules.find((m) => m.key === key)!);
    await st.close();
    expect(dw.shape).toEqual(shape);
    let s = 0;
    let a = 0;
    for (const v of dw.data) {
      s += v;
      a += Math.abs(v);
    }
    expect(s).toBeCloseTo(sum, 3);
    expect(a / absSum).toBeCloseTo(1, 5);
    for (const [i, v] of points) expect(dw.data[i]!).toBeCloseTo(v, 7);
  });

  it('matches numpy on the attention-processor file (F32 up @ down)', async () => {
    const path = fixture('lora', 'sd15_diffusers-attnproc_catundchat.safetensors');
    const lora = await readLora(path);
    const st = await SafetensorsFile.open(path);
    const dw = await denseDelta(st, lora.modules.find((m) => m.target === 'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k')!);
    await st.close();
    expect(dw.shape).toEqual([320, 768]);
    expect(dw.data.reduce((x, v) => x + v, 0)).toBeCloseTo(0.376416039781006, 4);
    expect(dw.data[10 * 768 + 20]!).toBeCloseTo(0.00017951690809525438, 8);
  });
});
