/**
 * `zipbank train`: train a LoRA on a model folder, DreamBooth-style, as the ZipLoRA
 * paper trains its inputs: a subject from 3-5 images with an instance prompt, a
 * style from one image. Writes a standard LoRA plus, next to it, the reference
 * images and the instance prompt (`<out>.references/`, `<out>.json`).
 *
 * @example
 *   zipbank train --model models/world --kind subject --images c1.png c2.png c3.png \
 *     --prompt "a sks dog" --out corgi.safetensors
 */
import { bundledModel } from '../../engine/models/bundled.ts';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { parseArgs, requireFlag, UsageError } from '../args.ts';
import type { Command } from '../command.ts';
import { writeLora } from '../../engine/lora/write.ts';
import { DiffusionPipeline } from '../../engine/pipeline/text-to-image.ts';
import { DEVICES } from '../../engine/runtime/index.ts';
import { LORA_TRAIN_DEFAULTS, trainLora } from '../../engine/train/lora.ts';

const usage = `usage: zipbank train [--model <folder>] --kind subject|style --images <a.png ..> --prompt "<text>" --out <file.safetensors> [options]

Trains a LoRA on the UNet's attention layers (DreamBooth objective; text encoders and
base weights frozen) and writes it in kohya format, with the references and the
instance prompt stored alongside (<out>.references/ and <out>.json).

  --model <folder>         diffusers folder (SD 1.x/2.x), e.g. models/world
                           (default: the bundled model, models/world)
  --kind subject|style     a subject from 3-5 images, a style from one image
  --images <files..>       the reference images
  --prompt "<text>"        instance prompt with a rare token: "a sks dog" / "a dog in sks style"
  --class-prompt "<text>"  prior preservation: the class prompt ("a dog") ...
  --prior-images N         ... and how many class images to generate (default 0: off)
  --rank N                 default ${LORA_TRAIN_DEFAULTS.rank}
  --targets attn|all       attention projections (default, the paper's scope) or every layer
  --steps N                default ${LORA_TRAIN_DEFAULTS.steps}
  --batch N                default ${LORA_TRAIN_DEFAULTS.batch}
  --lr X                   Adam learning rate (default ${LORA_TRAIN_DEFAULTS.learningRate})
  --seed N                 default ${LORA_TRAIN_DEFAULTS.seed}; same seed, same LoRA on the same device
  --width W --height H     training size (default the model's)
  --device <d>             ${DEVICES.join(', ')} (default ZIPBANK_DEVICE, else auto)
Ctrl-C stops between steps and writes what was learned so far.`;

const command: Command = {
  name: 'train',
  summary: 'train a subject or style LoRA (DreamBooth-style) on a model folder',
  usage,
  async run(args, io) {
    const { flags, positionals } = parseArgs(args, {
      model: { type: 'string' },
      kind: { type: 'string' },
      images: { type: 'string', multiple: true, greedy: true },
      prompt: { type: 'string' },
      'class-prompt': { type: 'string' },
      'prior-images': { type: 'number' },
      rank: { type: 'number' },
      targets: { type: 'string' },
      steps: { type: 'number' },
      batch: { type: 'number' },
      lr: { type: 'number' },
      seed: { type: 'number' },
      width: { type: 'number' },
      height: { type: 'number' },
      device: { type: 'string' },
      out: { type: 'string' },
    });
    if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const need = (k: string) => requireFlag(flags, k);
    const model = (flags.model as string | undefined) ?? (await bundledModel());
    const kind = need('kind');
    if (kind !== 'subject' && kind !== 'style') throw new UsageError(`--kind must be subject or style, got "${kind}"`);
    const prompt = need('prompt');
    const out = need('out');
    if (extname(out) !== '.safetensors') throw new UsageError(`--out must name a .safetensors file, got "${out}"`);
    const images = (flags.images as string[] | undefined) ?? [];
    if (images.length === 0) throw new UsageError('--images is required (3-5 for a subject, 1 for a style)');
    const targets = (flags.targets as string | undefined) ?? 'attn';
    if (targets !== 'attn' && targets !== 'all') throw new UsageError(`--targets must be attn or all, got "${targets}"`);
    const device = flags.device as string | undefined;
    if (device !== undefined && !(DEVICES as readonly string[]).includes(device)) throw new UsageError(`--device must be one of ${DEVICES.join(', ')}, got "${device}"`);
    const num = (k: string) => flags[k] as number | undefined;

    const pipe = await DiffusionPipeline.load(model, { device, warm: false, log: (level, m) => io.err(`zipbank train ${level}: ${m}`) });
    const abort = new AbortController();
    const onSigint = () => abort.abort();
    process.once('SIGINT', onSigint);
    try {
      let last = 0;
      const r = await trainLora(pipe, {
        kind,
        images,
        prompt,
        targets,
        ...(flags['class-prompt'] ? { classPrompt: flags['class-prompt'] as string } : {}),
        ...(num('prior-images') !== undefined ? { priorImages: num('prior-images') } : {}),
        ...(num('rank') !== undefined ? { rank: num('rank') } : {}),
        ...(num('steps') !== undefined ? { steps: num('steps') } : {}),
        ...(num('batch') !== undefined ? { batch: num('batch') } : {}),
        ...(num('lr') !== undefined ? { learningRate: num('lr') } : {}),
        ...(num('seed') !== undefined ? { seed: num('seed') } : {}),
        ...(num('width') !== undefined ? { width: num('width') } : {}),
        ...(num('height') !== undefined ? { height: num('height') } : {}),
        signal: abort.signal,
        onProgress: (p) => {
          const now = Date.now();
          if (p.step === p.total || now - last > 500) {
            last = now;
            const eta = Math.round(p.secondsPerStep * (p.total - p.step));
            io.err(`step ${p.step}/${p.total} loss ${p.loss.toFixed(4)} ${p.secondsPerStep.toFixed(2)} s/step, eta ${eta} s`);
          }
        },
      });
      await writeLora(out, r.lora, 'kohya');
      const refs = `${out.slice(0, -'.safetensors'.length)}.references`;
      await mkdir(refs, { recursive: true });
      for (const [i, img] of images.entries()) await copyFile(img, `${refs}/${i}-${basename(img)}`);
      const sidecar = `${out.slice(0, -'.safetensors'.length)}.json`;
      await writeFile(sidecar, `${JSON.stringify({ kind, prompt, images: images.map((img, i) => `${i}-${basename(img)}`), steps: r.steps, stopReason: r.stopReason, seconds: Math.round(r.seconds * 10) / 10, finalLoss: r.loss.slice(-20).reduce((a, b) => a + b, 0) / Math.min(20, r.loss.length) }, null, 2)}\n`);
      io.out(`${r.stopReason === 'cancelled' ? 'stopped' : 'trained'} after ${r.steps} steps in ${r.seconds.toFixed(1)} s`);
      io.out(`wrote ${out}`);
      io.out(`wrote ${refs}/ and ${sidecar}`);
      return 0;
    } finally {
      process.removeListener('SIGINT', onSigint);
      await pipe.dispose();
    }
  },
};

export default command;
