/**
 * `zipbank zip`: merge a subject LoRA and a style LoRA with ZipLoRA (or directly)
 * on a model folder, and write the merger vectors, the zipped LoRA, statistics and
 * plots into a folder.
 *
 * @example
 *   zipbank zip --model models/sd15 --subject corgi.safetensors --style watercolor.safetensors \
 *     --subject-prompt "a photo of sks dog" --style-prompt "a cat in watercolor style" \
 *     --subject-images c1.png c2.png c3.png --steps 100 --seed 1 --out zips/corgi-watercolor/
 *   // writes mergers.safetensors, zipped.safetensors, stats.json, loss.png, cosine.png, sparsity.png, references/
 */
import { bundledModel } from '../../engine/models/bundled.ts';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs, requireFlag, UsageError } from '../args.ts';
import type { Command } from '../command.ts';
import { readLorasForModel } from '../../engine/lora/apply.ts';
import { mergeLoras } from '../../engine/lora/merge.ts';
import { writeMergers } from '../../engine/lora/mergers.ts';
import { writeLora } from '../../engine/lora/write.ts';
import { layoutOf } from '../../engine/lora/keymap-sdxl.ts';
import { modelModuleTable } from '../../engine/lora/apply.ts';
import { encodeModel } from '../../engine/onnx/proto.ts';
import { DiffusionPipeline } from '../../engine/pipeline/text-to-image.ts';
import { DEVICES } from '../../engine/runtime/index.ts';
import { buildZipObjective } from '../../engine/ziplora/objective.ts';
import { renderZipPlots } from '../../engine/ziplora/plots.ts';
import { summarizeStats } from '../../engine/ziplora/stats.ts';
import { ZIP_DEFAULTS, zipLoras, type ZipProgress } from '../../engine/ziplora/zip.ts';

const usage = `usage: zipbank zip [--model <folder>] --subject <a.safetensors> --style <b.safetensors> --out <dir> [options]

Zips a subject LoRA and a style LoRA (ZipLoRA, Shah et al. 2023): learns one merger
coefficient per input column of every LoRA layer of the UNet so that the merged
model reproduces the subject LoRA on subject inputs and the style LoRA on style
inputs while the two sets of mergers become orthogonal. Writes into --out:
  mergers.safetensors   the merger vectors (small; the compact form of the zip)
  zipped.safetensors    the merged LoRA of rank r_subject + r_style (loads anywhere)
  stats.json            loss per step, per-layer mean |cos| before/after, max |m - 1|, steps, seconds
  loss.png cosine.png sparsity.png   plots of those
  references/           reference images generated for a LoRA given none

  --model <folder>            diffusers folder (SD 1.x/2.x or SDXL)
                              (default: the bundled model, models/world)
  --subject <file>            the subject LoRA; --style <file> the style LoRA
  --subject-prompt "<text>"   the subject's instance prompt (default: the LoRA's trigger words, else "a photo of sks")
  --style-prompt "<text>"     the style's instance prompt (default: its trigger words, else "a picture in sks style")
  --subject-images <files..>  the subject's reference images (3-5, as in the paper); default: generated
  --style-images <files..>    the style's reference image; default: generated
  --method ziplora|direct     default ziplora; direct is the paper's baseline (mergers stay 1)
  --steps N                   at most N optimisation steps (default ${ZIP_DEFAULTS.steps}); stops early when the
                              mean |cos| over layers is below ${ZIP_DEFAULTS.cosineThreshold}
  --lr X --lambda X           Adam learning rate (default ${ZIP_DEFAULTS.learningRate}) and cosine weight (default ${ZIP_DEFAULTS.lambda})
  --seed N                    default 0; same seed, same result on the same device
  --width W --height H        pixels (default the model's)
  --reference-steps N         denoising steps for generated references (default the pipeline's)
  --device <d>                ${DEVICES.join(', ')} (default ZIPBANK_DEVICE, else auto)
  --low-memory                do not pre-pack weights in the zip's sessions (about one weight copy
                              less in memory, somewhat slower on CPU); for full-size models on CPU
  --save-graph                also write ziplora.onnx, the training graph (forward + backward); its
                              weights stay external and refer to the model folder
  --format kohya|peft         format of zipped.safetensors (default kohya)`;

function bar(p: ZipProgress): string {
  const width = 30;
  const done = p.total ? Math.round((p.step / p.total) * width) : 0;
  const tail = p.loss !== undefined ? ` loss ${p.loss.toExponential(3)} mean|cos| ${p.cosine!.toFixed(3)}` : '';
  return `[${'#'.repeat(done)}${'.'.repeat(width - done)}] ${p.phase} ${p.step}/${p.total}${tail}`;
}

function defaultPrompt(triggers: readonly string[] | undefined, fallback: string): string {
  return triggers && triggers.length ? triggers.slice(0, 3).join(', ') : fallback;
}

const command: Command = {
  name: 'zip',
  summary: 'zip a subject LoRA and a style LoRA (ZipLoRA) on a model folder',
  usage,
  async run(args, io) {
    const { flags, positionals } = parseArgs(args, {
      model: { type: 'string' },
      subject: { type: 'string' },
      style: { type: 'string' },
      'subject-prompt': { type: 'string' },
      'style-prompt': { type: 'string' },
      'subject-images': { type: 'string', multiple: true, greedy: true },
      'style-images': { type: 'string', multiple: true, greedy: true },
      method: { type: 'string' },
      steps: { type: 'number' },
      lr: { type: 'number' },
      lambda: { type: 'number' },
      seed: { type: 'number' },
      width: { type: 'number' },
      height: { type: 'number' },
      'reference-steps': { type: 'number' },
      device: { type: 'string' },
      'save-graph': { type: 'boolean' },
      'low-memory': { type: 'boolean' },
      format: { type: 'string' },
      out: { type: 'string' },
    });
    if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const need = (k: string) => requireFlag(flags, k);
    const model = (flags.model as string | undefined) ?? (await bundledModel());
    const subject = need('subject');
    const style = need('style');
    const out = need('out');
    const method = (flags.method as string | undefined) ?? 'ziplora';
    if (method !== 'ziplora' && method !== 'direct') throw new UsageError(`--method must be ziplora or direct, got "${method}"`);
    const format = (flags.format as string | undefined) ?? 'kohya';
    if (format !== 'kohya' && format !== 'peft') throw new UsageError(`--format must be kohya or peft, got "${format}"`);
    const device = flags.device as string | undefined;
    if (device !== undefined && !(DEVICES as readonly string[]).includes(device)) throw new UsageError(`--device must be one of ${DEVICES.join(', ')}, got "${device}"`);
    const num = (k: string) => flags[k] as number | undefined;

    const pipe = await DiffusionPipeline.load(model, { device, warm: false, log: (level, m) => io.err(`zipbank zip ${level}: ${m}`) });
    const abort = new AbortController();
    const onSigint = () => abort.abort();
    process.once('SIGINT', onSigint);
    try {
      const [subj, sty] = await readLorasForModel(pipe.model.folder, [
        { path: subject, weight: 1 },
        { path: style, weight: 1 },
      ]);
      const inputs = [
        {
          lora: subj!.lora,
          role: 'subject',
          prompt: (flags['subject-prompt'] as string | undefined) ?? defaultPrompt(subj!.lora.summary.triggerWords, 'a photo of sks'),
          ...(flags['subject-images'] ? { images: flags['subject-images'] as string[] } : {}),
        },
        {
          lora: sty!.lora,
          role: 'style',
          prompt: (flags['style-prompt'] as string | undefined) ?? defaultPrompt(sty!.lora.summary.triggerWords, 'a picture in sks style'),
          ...(flags['style-images'] ? { images: flags['style-images'] as string[] } : {}),
        },
      ];
      for (const i of inputs) io.out(`${i.role}: ${i.lora.file} (${i.lora.modules.length} modules), prompt "${i.prompt}"${'images' in i ? `, ${i.images!.length} reference image(s)` : ', references generated'}`);
      let last = 0;
      const result = await zipLoras(pipe, {
        inputs,
        method,
        steps: num('steps'),
        learningRate: num('lr'),
        lambda: num('lambda'),
        seed: num('seed'),
        width: num('width'),
        height: num('height'),
        referenceSteps: num('reference-steps'),
        releaseRenderSessions: true,
        prepack: !flags['low-memory'],
        signal: abort.signal,
        onProgress: (p) => {
          const now = Date.now();
          if (p.step === p.total || now - last > 250) {
            last = now;
            io.err(bar(p));
          }
        },
      });
      await mkdir(out, { recursive: true });
      const written: string[] = [];
      const write = async (name: string, data: Buffer | Uint8Array | string) => {
        const file = join(out, name);
        await writeFile(file, data);
        written.push(file);
      };
      const mergersFile = join(out, 'mergers.safetensors');
      await writeMergers(mergersFile, result.mergers);
      written.push(mergersFile);
      const layout = layoutOf(modelModuleTable(pipe.model.folder.configs).keys());
      const merged = await mergeLoras(result.sources, { method: result.method, roles: ['subject', 'style'], ...(result.method === 'ziplora' ? { coefficientsFile: mergersFile } : {}), layout });
      const zipped = join(out, 'zipped.safetensors');
      await writeLora(zipped, merged, format);
      written.push(zipped);
      await write('stats.json', JSON.stringify(result.stats, null, 2) + '\n');
      const plots = await renderZipPlots(result.stats);
      await write('loss.png', plots.loss);
      await write('cosine.png', plots.cosine);
      await write('sparsity.png', plots.sparsity);
      if (result.references.some((r) => r.generated)) await mkdir(join(out, 'references'), { recursive: true });
      for (const r of result.references) for (const [i, png] of r.png.entries()) await write(join('references', `${r.role}-${i}.png`), png);
      if (flags['save-graph']) {
        const size = pipe.defaults;
        const f = pipe.model.vaeFactor;
        const cond = await pipe.conditioning({ prompt: inputs[0]!.prompt, guidance: 1 });
        const obj = buildZipObjective(pipe.model.folder.configs.unet, {
          weights: pipe.model.folder.components.unet!.weights,
          plan: result.plan,
          height: (num('height') ?? size.height) / f,
          width: (num('width') ?? size.width) / f,
          sequence: cond.cond.hidden.dims[1]!,
        });
        await write('ziplora.onnx', encodeModel(obj.model));
      }
      for (const line of summarizeStats(result.stats)) io.out(line);
      for (const f of written) io.out(`wrote ${f}`);
      if (result.stats.stuck) io.err('zipbank zip warn: the mergers did not move: this zip is a direct merge in effect (see stats.json)');
      return result.stats.stopReason === 'cancelled' ? 130 : 0;
    } finally {
      process.removeListener('SIGINT', onSigint);
      await pipe.dispose();
    }
  },
};

export default command;
