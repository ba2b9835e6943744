import { mkdir, writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { rasterizeSvg } from '../../../src/engine/image/index.ts';
import { abbreviateTarget, cosineChartSvg, escapeXml, lossChartSvg, orderLayers, renderZipPlots, sparsityChartSvg } from '../../../src/engine/ziplora/plots.ts';
import { summarizeStats, type LayerStat, type ZipStats } from '../../../src/engine/ziplora/stats.ts';

/** SD 1.5 attention targets (attn1/attn2 q, k, v, out per transformer block): 128 layers, in a shuffled order. */
function sd15Targets(): string[] {
  const blocks: string[] = [];
  for (let d = 0; d < 3; d++) for (let a = 0; a < 2; a++) blocks.push(`down_blocks.${d}.attentions.${a}`);
  blocks.push('mid_block.attentions.0');
  for (let u = 1; u < 4; u++) for (let a = 0; a < 3; a++) blocks.push(`up_blocks.${u}.attentions.${a}`);
  const out: string[] = [];
  for (const b of blocks) for (const attn of ['attn1', 'attn2']) for (const p of ['to_q', 'to_k', 'to_v', 'to_out.0']) out.push(`unet.${b}.transformer_blocks.0.${attn}.${p}`);
  return out.sort(); // lexical, as injection plans list them: 'to_k' < 'to_out.0' < 'to_q', 'up_blocks' last
}

/** A deterministic small generator (tests must not depend on Math.random). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

function makeStats(o: { layers?: number; steps?: number; stuck?: boolean } = {}): ZipStats {
  const rnd = lcg(7);
  const targets = sd15Targets().slice(0, o.layers ?? 128);
  const layers: LayerStat[] = targets.map((target) => ({ target, cosBefore: 1, cosAfter: 0.02 + 0.3 * rnd() ** 3, maxMove: [0.1 + 0.3 * rnd(), 0.1 + 0.3 * rnd()] }));
  const steps = o.steps ?? 100;
  const loss = Array.from({ length: steps }, (_, i) => {
    const subject = 0.08 * Math.exp(-i / 40) + 0.01;
    const style = 0.06 * Math.exp(-i / 50) + 0.012;
    const cosine = 0.01 * 128 * Math.exp(-i / 12);
    return { step: i + 1, total: subject + style + cosine, subject, style, cosine };
  });
  const sweep = (scale: number) => [0, 0.2, 0.4, 0.6, 0.8, 0.9, 0.95, 0.99].map((fraction) => ({ fraction, outputChange: scale * fraction ** 6 }));
  return {
    method: 'ziplora',
    steps,
    maxSteps: 100,
    seconds: 42.1,
    loss,
    layers,
    maxMove: [0.41, 0.37],
    stopReason: 'max-steps',
    stuck: o.stuck ?? false,
    sparsity: { subject: sweep(0.3), style: sweep(0.2) },
    seed: 3,
    provider: 'cpu',
  };
}

/** A minimal XML well-formedness check: balanced tags, no raw '<' or stray '&' in text or attributes. */
function assertWellFormed(svg: string): void {
  const stack: string[] = [];
  const tag = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/y;
  let i = 0;
  while (i < svg.length) {
    const lt = svg.indexOf('<', i);
    const chunk = svg.slice(i, lt < 0 ? svg.length : lt);
    expect(chunk.replace(/&(amp|lt|gt|quot|apos);/g, '')).not.toMatch(/[&>]/);
    if (lt < 0) break;
    tag.lastIndex = lt;
    const m = tag.exec(svg);
    if (!m) throw new Error(`malformed tag at ${lt}: ${svg.slice(lt, lt + 80)}`);
    expect(m[3]!.replace(/&(amp|lt|gt|quot|apos);/g, '')).not.toMatch(/&/);
    if (m[1]) expect(stack.pop(), `closing </${m[2]}>`).toBe(m[2]);
    else if (!m[4]) stack.push(m[2]!);
    i = tag.lastIndex;
  }
  expect(stack).toEqual([]);
  expect(svg.startsWith('<svg ')).toBe(true);
}

function pngSize(png: Buffer): [number, number] {
  expect(png.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe(true);
  expect(png.subarray(12, 16).toString('latin1')).toBe('IHDR');
  return [png.readUInt32BE(16), png.readUInt32BE(20)];
}

function svgSize(svg: string): [number, number] {
  const m = /^<svg [^>]*?width="(\d+)" height="(\d+)"/.exec(svg);
  if (!m) throw new Error('no size');
  return [Number(m[1]), Number(m[2])];
}

const texts = (svg: string, cls: string) => [...svg.matchAll(new RegExp(`<text [^>]*class="${cls}"[^>]*>([^<]*)</text>`, 'g'))].map((m) => m[1]!);

describe('engine/ziplora/plots', () => {
  it('abbreviates targets readably and orders layers as the UNet runs', () => {
    expect(abbreviateTarget('unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q')).toBe('down0.a0.t0.attn1.q');
    expect(abbreviateTarget('unet.up_blocks.3.attentions.2.transformer_blocks.0.attn2.to_out.0')).toBe('up3.a2.t0.attn2.out');
    expect(abbreviateTarget('unet.mid_block.attentions.0.transformer_blocks.0.ff.net.0.proj')).toBe('mid.a0.t0.ff.in');
    expect(abbreviateTarget('text_encoder.text_model.encoder.layers.11.self_attn.q_proj')).toBe('te.L11.q');
    const long = abbreviateTarget('something.completely.unknown.and.rather.long.indeed');
    expect([...long].length).toBe(28);
    expect(long).toContain('…');

    const order = orderLayers(sd15Targets().map((target) => ({ target }))).map((l) => abbreviateTarget(l.target));
    expect(order.slice(0, 8)).toEqual(['down0.a0.t0.attn1.q', 'down0.a0.t0.attn1.k', 'down0.a0.t0.attn1.v', 'down0.a0.t0.attn1.out', 'down0.a0.t0.attn2.q', 'down0.a0.t0.attn2.k', 'down0.a0.t0.attn2.v', 'down0.a0.t0.attn2.out']);
    expect(order.indexOf('mid.a0.t0.attn1.q')).toBe(48);
    expect(order.indexOf('up1.a0.t0.attn1.q')).toBe(56);
    expect(order[127]).toBe('up3.a2.t0.attn2.out');
    const blocks = orderLayers(['unet.up_blocks.0.resnets.1.conv1', 'unet.up_blocks.0.attentions.0.proj_out', 'unet.up_blocks.0.upsamplers.0.conv', 'unet.up_blocks.0.resnets.0.conv1', 'unet.up_blocks.0.attentions.0.proj_in', 'unet.mid_block.resnets.0.conv2'].map((target) => ({ target })));
    expect(blocks.map((b) => abbreviateTarget(b.target))).toEqual(['mid.r0.conv2', 'up0.r0.conv1', 'up0.a0.proj_in', 'up0.a0.proj_out', 'up0.r1.conv1', 'up0.us0']);
  });

  it('draws the loss chart with its four series, a legend and a log y-axis when the values span over two decades', async () => {
    const stats = makeStats();
    const svg = lossChartSvg(stats);
    assertWellFormed(svg);
    expect([...svg.matchAll(/class="series" data-series="(\w+)"/g)].map((m) => m[1])).toEqual(['total', 'subject', 'style', 'cosine']);
    expect(texts(svg, 'legend')).toEqual(['total', 'subject MSE', 'style MSE', 'λ·cosine']);
    expect(texts(svg, 'title')).toEqual(['ZipLoRA loss per step']);
    expect(texts(svg, 'subtitle')[0]).toContain('100/100 steps');
    expect(texts(svg, 'axis-label')).toEqual(['step', 'loss (log scale)']);
    // The cosine term falls from 1.28 to ~3e-4: more than two decades, so log, with decade ticks.
    expect(svg).toContain('data-scale="log"');
    expect(texts(svg, 'tick')).toEqual(expect.arrayContaining(['0.0001', '0.001', '0.01', '0.1', '1', '10']));
    // Over a narrow range the axis is linear.
    const flat = { ...stats, loss: stats.loss.map((l) => ({ ...l, cosine: 0.05, total: l.subject + l.style + 0.05 })) };
    const lin = lossChartSvg(flat);
    expect(lin).toContain('data-scale="linear"');
    expect(texts(lin, 'axis-label')).toEqual(['step', 'loss']);
    const png = await rasterizeSvg(svg);
    expect(pngSize(png)).toEqual(svgSize(svg));
  });

  it('draws one bar pair per layer in the cosine chart and wraps 128 layers onto rows', () => {
    const stats = makeStats();
    const svg = cosineChartSvg(stats);
    assertWellFormed(svg);
    expect(svg.match(/class="bar-before"/g)).toHaveLength(128);
    expect(svg.match(/class="bar-after"/g)).toHaveLength(128);
    expect(svg.match(/class="row"/g)).toHaveLength(2);
    const labels = texts(svg, 'layer');
    expect(labels[0]).toBe('down0.a0.t0.attn1.q');
    expect(labels).toContain('mid.a0.t0.attn2.out');
    expect(texts(svg, 'subtitle')[0]).toMatch(/^mean 1\.00 → 0\.\d+ over 128 layers/);
    expect(texts(svg, 'block')).toEqual(expect.arrayContaining(['down0', 'mid', 'up3']));
    // A full bar (cos 1) is the plot height; bars stay inside their row.
    const full = [...svg.matchAll(/class="bar-before" [^>]*height="([\d.]+)"/g)].map((m) => Number(m[1]));
    expect(new Set(full)).toEqual(new Set([150]));
    // 700 layers (SDXL-sized) stay legible: rows of at most 80 slots of >= 14 px.
    const many = { ...stats, layers: Array.from({ length: 700 }, (_, i) => ({ ...stats.layers[i % 128]!, target: `unet.up_blocks.${Math.floor(i / 100)}.attentions.0.transformer_blocks.${i % 10}.attn1.to_q` })) };
    const big = cosineChartSvg(many);
    assertWellFormed(big);
    expect(big.match(/class="row"/g)).toHaveLength(9);
    expect(big.match(/class="layer"/g)).toHaveLength(700);
    const [w, h] = svgSize(big);
    expect(w).toBeLessThanOrEqual(64 + 80 * 14 + 24 + 880);
    expect(h).toBeLessThan(16000);
  });

  it('draws the sparsity chart with one line per LoRA on percent axes', () => {
    const svg = sparsityChartSvg(makeStats());
    assertWellFormed(svg);
    expect([...svg.matchAll(/class="series" data-series="(\w+)"/g)].map((m) => m[1])).toEqual(['subject', 'style']);
    expect(texts(svg, 'legend')).toEqual(['subject LoRA', 'style LoRA']);
    expect(texts(svg, 'tick')).toEqual(expect.arrayContaining(['0%', '20%', '100%', '30%']));
    expect(svg).toContain('data-scale="linear"');
  });

  it('escapes every piece of text, including targets with markup in them', async () => {
    const stats = makeStats({ layers: 3 });
    stats.layers[0] = { ...stats.layers[0]!, target: 'unet.<script>&"x\'</script>\u0001' };
    stats.provider = 'cuda<&>';
    for (const svg of [cosineChartSvg(stats), lossChartSvg(stats)]) {
      assertWellFormed(svg);
      expect(svg).not.toContain('<script>');
      expect(svg).not.toContain('<&>');
      await rasterizeSvg(svg); // librsvg refuses malformed XML
    }
    expect(cosineChartSvg(stats)).toContain('&lt;script&gt;&amp;&quot;x&apos;&lt;/script&gt;\uFFFD');
    expect(escapeXml('a<&>"\'b\u0000\uD800')).toBe('a&lt;&amp;&gt;&quot;&apos;b\uFFFD\uFFFD');
  });

  it('says "no data" for empty and non-finite statistics instead of failing', async () => {
    const empty: ZipStats = {
      ...makeStats(),
      method: 'direct',
      steps: 0,
      loss: [],
      layers: [],
      maxMove: [],
      sparsity: { subject: [], style: [] },
    };
    const nan: ZipStats = {
      ...makeStats({ layers: 4, steps: 3 }),
      seconds: Number.NaN,
      loss: [1, 2, 3].map((step) => ({ step, total: Number.NaN, subject: Number.NaN, style: Number.NaN, cosine: Number.NaN })),
      sparsity: { subject: [{ fraction: 0.5, outputChange: Number.NaN }], style: [] },
    };
    nan.layers = nan.layers.map((l) => ({ ...l, cosBefore: Number.NaN, cosAfter: Number.NaN }));
    for (const stats of [empty, nan]) {
      for (const svg of [lossChartSvg(stats), cosineChartSvg(stats), sparsityChartSvg(stats)]) {
        assertWellFormed(svg);
        expect(texts(svg, 'no-data')).toHaveLength(1);
        expect(svg).not.toMatch(/NaN|Infinity|undefined/);
      }
    }
    // A single point and a partly missing series still draw.
    const one = makeStats({ layers: 1, steps: 1 });
    one.loss[0]!.cosine = Number.NaN;
    const svg = lossChartSvg(one);
    assertWellFormed(svg);
    expect([...svg.matchAll(/data-series="(\w+)"/g)].map((m) => m[1])).toEqual(['total', 'subject', 'style']);
    expect(svg).not.toMatch(/NaN|Infinity/);
    const pngs = await renderZipPlots(empty, { density: 72 });
    expect(pngSize(pngs.cosine)).toEqual([960, 540]);
  });

  it('renders the three PNGs at the requested density', async () => {
    const stats = makeStats({ layers: 40, steps: 30 });
    const pngs = await renderZipPlots(stats, { density: 72 });
    expect(pngSize(pngs.loss)).toEqual(svgSize(lossChartSvg(stats)));
    expect(pngSize(pngs.cosine)).toEqual(svgSize(cosineChartSvg(stats)));
    expect(pngSize(pngs.sparsity)).toEqual(svgSize(sparsityChartSvg(stats)));
    const sharp = await renderZipPlots(stats);
    expect(pngSize(sharp.loss)).toEqual([1920, 1080]);
  });

  it('summarises a run in a few lines, with a warning when the mergers are stuck', () => {
    const lines = summarizeStats(makeStats());
    expect(lines[0]).toBe('ziplora: 100/100 steps in 42.1 s, reached the step limit (seed 3, cpu)');
    expect(lines).toContain('mergers moved: subject max |m-1| = 0.41, style 0.37');
    expect(lines.find((l) => l.startsWith('cosine mean'))).toMatch(/^cosine mean 1\.00 -> 0\.\d+ over 128 layers$/);
    expect(lines.find((l) => l.startsWith('sparsity'))).toBe('sparsity: subject output changes 28% with 99% of dW zeroed; style output changes 19% with 99% of dW zeroed');
    expect(lines.some((l) => l.startsWith('WARNING'))).toBe(false);
    const stuck = summarizeStats({ ...makeStats(), stuck: true, maxMove: [0.004, 0.002] });
    expect(stuck.at(-1)).toBe('WARNING: the mergers hardly moved (max |m-1| = 0.004): this zip is effectively a direct merge, not a ZipLoRA.');
    expect(texts(cosineChartSvg({ ...makeStats(), stuck: true }), 'warning')).toHaveLength(1);
    const empty = summarizeStats({ ...makeStats(), method: 'direct', loss: [], layers: [], maxMove: [], sparsity: { subject: [], style: [] } });
    expect(empty).toEqual(['direct merge: mergers fixed at 1, no optimisation (seed 3, cpu)', 'cosine: no layers measured']);
  });

  // Sample PNGs for people to look at: ZIPBANK_SAVE_PLOTS=tmp/plots npx vitest run test/engine/ziplora/plots.test.ts
  it.skipIf(!process.env.ZIPBANK_SAVE_PLOTS)('saves sample PNGs', async () => {
    const dir = process.env.ZIPBANK_SAVE_PLOTS!;
    await mkdir(dir, { recursive: true });
    const pngs = await renderZipPlots(makeStats());
    for (const [name, png] of Object.entries(pngs)) await writeFile(`${dir}/${name}.png`, png);
    const stuck = { ...makeStats({ layers: 20, steps: 12 }), stuck: true, stopReason: 'cancelled' as const };
    const small = await renderZipPlots(stuck);
    await writeFile(`${dir}/cosine-20-stuck.png`, small.cosine);
    const empty = await renderZipPlots({ ...makeStats(), loss: [], layers: [], sparsity: { subject: [], style: [] } });
    await writeFile(`${dir}/empty-loss.png`, empty.loss);
  });
});
