/**
 * The training objectives compute exactly what the separate component graphs
 * compute: the VAE objective's loss from encoder -> z -> decoder run one by one,
 * and the denoiser objective's loss from CLIP (with the token lookup done on the
 * host) -> UNet. Checked on the tiny SD 1.5 preset with seeded random weights.
 */
import { describe, expect, it } from 'vitest';
import { presetConfigs } from '../../../src/engine/models/presets.ts';
import { randomWeights } from '../../../src/engine/models/random-init.ts';
import { clipTextParams } from '../../../src/engine/models/clip/params.ts';
import { buildClipTextGraph } from '../../../src/engine/models/clip/graph.ts';
import { unetParams } from '../../../src/engine/models/unet/params.ts';
import { buildUNetGraph } from '../../../src/engine/models/unet/graph.ts';
import { vaeParams } from '../../../src/engine/models/vae/params.ts';
import { buildVaeDecoderGraph, buildVaeEncoderGraph } from '../../../src/engine/models/vae/graph.ts';
import { readTensorValues } from '../../../src/engine/onnx/index.ts';
import { createRandom } from '../../../src/engine/pipeline/random.ts';
import { asFloat32, createSession, tensor } from '../../../src/engine/runtime/index.ts';
import { denoiserObjective, vaeObjective } from '../../../src/engine/train/objectives.ts';

const cfg = presetConfigs('tiny-sd15');

describe('vaeObjective', () => {
  it('equals encoder -> reparameterised z -> decoder with L2 + L1 + KL', async () => {
    const weights = randomWeights(vaeParams(cfg.vae!), { seed: 3, component: 'vae' });
    const B = 2;
    const S = 16;
    const o = vaeObjective(cfg.vae!, { weights, batch: B, size: S, klWeight: 0.01 });
    const r = createRandom(9);
    const x = Float32Array.from(r.normals(B * 3 * S * S), (v) => Math.tanh(v));
    const noise = r.normals(B * 4 * (S / 2) * (S / 2));
    const all = await createSession({ model: o.model, name: 'vae-objective' });
    const got = await all.run({ sample: tensor('float32', x, o.inputShapes.sample!), noise: tensor('float32', noise, o.inputShapes.noise!) });

    const enc = await createSession({ model: buildVaeEncoderGraph(cfg.vae!, { weights }).model, name: 'enc' });
    const dec = await createSession({ model: buildVaeDecoderGraph(cfg.vae!, { weights }).model, name: 'dec' });
    const m = asFloat32((await enc.run({ sample: tensor('float32', x, [B, 3, S, S]) })).moments!);
    const per = 4 * (S / 2) * (S / 2);
    const z = new Float32Array(B * per);
    let kl = 0;
    for (let b = 0; b < B; b++) {
      for (let i = 0; i < per; i++) {
        const mean = m[b * 2 * per + i]!;
        const logvar = Math.min(20, Math.max(-30, m[b * 2 * per + per + i]!));
        z[b * per + i] = mean + Math.exp(0.5 * logvar) * noise[b * per + i]!;
        kl += 0.5 * (mean * mean + Math.exp(logvar) - 1 - logvar);
      }
    }
    kl /= B * per;
    const y = asFloat32((await dec.run({ latent_sample: tensor('float32', z, [B, 4, S / 2, S / 2]) })).sample!);
    let l2 = 0;
    let l1 = 0;
    for (let i = 0; i < y.length; i++) {
      l2 += (y[i]! - x[i]!) ** 2;
      l1 += Math.abs(y[i]! - x[i]!);
    }
    const want = l2 / y.length + l1 / y.length + 0.01 * kl;
    expect(asFloat32(got.loss!)[0]).toBeCloseTo(want, 4);
    expect(asFloat32(got.kl!)[0]).toBeCloseTo(kl, 4);

    // The chroma term: chromaWeight · (mean Δ(G - (R+B)/2)² + mean Δ(B - R)²) on the same reconstruction.
    const oc = vaeObjective(cfg.vae!, { weights, batch: B, size: S, klWeight: 0.01, chromaWeight: 0.5 });
    const withChroma = await createSession({ model: oc.model, name: 'vae-objective-chroma' });
    const gotC = await withChroma.run({ sample: tensor('float32', x, oc.inputShapes.sample!), noise: tensor('float32', noise, oc.inputShapes.noise!) });
    const plane = S * S;
    let gm = 0;
    let by = 0;
    for (let b = 0; b < B; b++) {
      for (let i = 0; i < plane; i++) {
        const d = (c: number) => y[b * 3 * plane + c * plane + i]! - x[b * 3 * plane + c * plane + i]!;
        gm += (d(1) - 0.5 * (d(0) + d(2))) ** 2;
        by += (d(2) - d(0)) ** 2;
      }
    }
    const chroma = gm / (B * plane) + by / (B * plane);
    expect(chroma).toBeGreaterThan(0);
    expect(asFloat32(gotC.loss!)[0]).toBeCloseTo(want + 0.5 * chroma, 4);
    await withChroma.dispose();
    for (const s of [all, enc, dec]) await s.dispose();
  });
});

describe('denoiserObjective', () => {
  it('equals the per-sample weighted MSE(UNet(noisy, t, CLIP(ids)), target) with host-gathered token embeddings', async () => {
    const te = cfg.textEncoder!;
    const weights = randomWeights([...clipTextParams(te, { withProjection: false }), ...unetParams(cfg.unet)], { seed: 4 });
    const B = 2;
    const L = 8;
    const seq = 77;
    const o = denoiserObjective(cfg.unet, te, { weights, batch: B, latentSize: L });
    expect(o.params).not.toContain(o.tokenTable);
    expect(o.params.length).toBe(clipTextParams(te, { withProjection: false }).length - 1 + unetParams(cfg.unet).length);
    const ids = new Int32Array(B * seq).fill(49407);
    ids.set([49406, 320, 1929, 49407], 0);
    ids.set([49406, 320, 2368, 530, 518, 2117, 49407], seq);
    const spec = weights.get(o.tokenTable)!;
    const table = readTensorValues({ name: o.tokenTable, dataType: 1, dims: [...spec.shape], rawData: spec.raw as Uint8Array }) as unknown as Float32Array;
    const H = te.hiddenSize;
    const embeds = new Float32Array(B * seq * H);
    for (let i = 0; i < B * seq; i++) embeds.set(table.subarray(ids[i]! * H, ids[i]! * H + H), i * H);
    const r = createRandom(5);
    const sample = r.normals(B * 4 * L * L);
    const target = r.normals(B * 4 * L * L);
    const t = Float32Array.from([10, 700]);
    const all = await createSession({ model: o.model, name: 'denoiser-objective' });
    const got = asFloat32(
      (
        await all.run({
          input_ids: tensor('int32', ids, [B, seq]),
          [o.tokenInput]: tensor('float32', embeds, [B, seq, H]),
          sample: tensor('float32', sample, [B, 4, L, L]),
          timestep: tensor('float32', t, [B]),
          target: tensor('float32', target, [B, 4, L, L]),
          weight: tensor('float32', Float32Array.from([1, 0.25]), [B]),
        })
      ).loss!,
    )[0]!;

    const clip = await createSession({ model: buildClipTextGraph(te, { weights, withProjection: false }).model, name: 'clip' });
    const unet = await createSession({ model: buildUNetGraph(cfg.unet, { weights }).model, name: 'unet' });
    const hidden = (await clip.run({ input_ids: tensor('int32', ids, [B, seq]) })).last_hidden_state!;
    const eps = asFloat32((await unet.run({ sample: tensor('float32', sample, [B, 4, L, L]), timestep: tensor('float32', t, [B]), encoder_hidden_states: hidden })).out_sample!);
    const per = eps.length / B;
    const mse = [0, 0];
    for (let i = 0; i < eps.length; i++) mse[Math.floor(i / per)]! += (eps[i]! - target[i]!) ** 2 / per;
    expect(got).toBeCloseTo((mse[0]! * 1 + mse[1]! * 0.25) / 2, 5);

    // Per-cell weights [B, 1, L, L], broadcast over the latent channels.
    const so = denoiserObjective(cfg.unet, te, { weights, batch: B, latentSize: L, spatialWeight: true });
    expect(so.inputShapes.weight).toEqual([B, 1, L, L]);
    const map = Float32Array.from({ length: B * L * L }, () => r.uniform() * 3);
    const spatial = await createSession({ model: so.model, name: 'denoiser-objective-spatial' });
    const gotSpatial = asFloat32(
      (
        await spatial.run({
          input_ids: tensor('int32', ids, [B, seq]),
          [so.tokenInput]: tensor('float32', embeds, [B, seq, H]),
          sample: tensor('float32', sample, [B, 4, L, L]),
          timestep: tensor('float32', t, [B]),
          target: tensor('float32', target, [B, 4, L, L]),
          weight: tensor('float32', map, [B, 1, L, L]),
        })
      ).loss!,
    )[0]!;
    let want = 0;
    for (let i = 0; i < eps.length; i++) {
      const b = Math.floor(i / per);
      const cell = i % (L * L);
      want += map[b * L * L + cell]! * (eps[i]! - target[i]!) ** 2;
    }
    expect(gotSpatial).toBeCloseTo(want / eps.length, 5);
    for (const s of [all, clip, unet, spatial]) await s.dispose();
  });
});
