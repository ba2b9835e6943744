/**
 * `zipbank render`: text-to-image with a diffusers SD 1.x/2.x or SDXL folder.
 *
 * @example
 *   zipbank render --model models/sdxl --prompt "a corgi surfing at sunset" --seed 42 --count 4 --out renders/
 *   // provider cuda, float16, 1024x1024, EulerDiscreteScheduler, 25 steps, guidance 5
 *   // wrote renders/seed-42.png ... renders/grid.png
 *   zipbank render --model models/sd15 --prompt "a corgi" --lora corgi.safetensors --lora watercolor.safetensors:0.8 --out renders/
 */
import { bundledModel } from '../../engine/models/bundled.ts';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs, UsageError } from '../args.ts';
import type { Command } from '../command.ts';
import { composeGrid } from '../../engine/image/index.ts';
import { parseLoraSpec, pipelineLoraLayers, readLorasForModel } from '../../engine/lora/apply.ts';
import { DiffusionPipeline, MAX_COUNT } from '../../engine/pipeline/text-to-image.ts';
import { DEVICES } from '../../engine/runtime/index.ts';

const usage = `usage: zipbank render [--model <folder>] --prompt "<text>" --out <dir> [options]

Renders images from a prompt with a diffusers model folder (SD 1.x/2.x or SDXL) and
writes them as PNG files, plus grid.png when there is more than one.

  --model <folder>        diffusers folder: model_index.json, unet/, vae/, text_encoder/ (and
                          text_encoder_2/ for SDXL), tokenizer(s), scheduler/
                          (default: the bundled model, models/world)
  --prompt "<text>"       what to draw
  --negative "<text>"     what to steer away from (default none; SDXL then uses zero embeddings)
  --seed N                default random; image i uses seed N + i, so each image can be rendered alone
  --steps N               denoising steps (default 25, or the model's own default)
  --guidance G            classifier-free guidance (default 7.5 for SD, 5 for SDXL, or the model's
                          own default; 1 or less: none)
  --width W --height H    pixels (default the model's: 512 for SD 1.5, 1024 for SDXL); multiples
                          of the model's size step (64 for SD 1.5 and SDXL)
  --scheduler <name>      default the model's scheduler_config.json; e.g. euler, euler-a, ddim,
                          dpm++2m, dpm++2m-karras, lms, heun, pndm, unipc
                          (a model_index.json may name its own steps, guidance and scheduler under
                          "_zipbank_render_defaults": the bundled model's are 20, 6, dpm++2m-karras)
  --count N               1 to ${MAX_COUNT} images (default 1)
  --device <d>            ${DEVICES.join(', ')} (default ZIPBANK_DEVICE, else auto)
  --dtype <t>             auto, float32, float16 (default auto: float16 on GPUs, float32 on CPU)
  --lora <file>[:weight]  apply a LoRA (kohya, diffusers, PEFT, LyCORIS) with a weight (default 1);
                          repeat to apply several together. A LoRA whose modules or shapes the
                          model does not have is refused.
  --out <dir>             where the PNG files go (created if missing)`;

const num = (v: unknown) => v as number | undefined;

const command: Command = {
  name: 'render',
  summary: 'render images from a prompt with an SD 1.5 or SDXL model folder',
  usage,
  async run(args, io) {
    const { flags, positionals } = parseArgs(args, {
      model: { type: 'string' },
      prompt: { type: 'string' },
      negative: { type: 'string' },
      seed: { type: 'number' },
      steps: { type: 'number' },
      guidance: { type: 'number' },
      width: { type: 'number' },
      height: { type: 'number' },
      scheduler: { type: 'string' },
      count: { type: 'number' },
      device: { type: 'string' },
      dtype: { type: 'string' },
      out: { type: 'string' },
      lora: { type: 'string', multiple: true },
    });
    if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}" (quote the prompt and pass it with --prompt)`);
    const model = (flags.model as string | undefined) ?? (await bundledModel());
    const prompt = flags.prompt as string | undefined;
    const out = flags.out as string | undefined;
    if (prompt === undefined) throw new UsageError('--prompt is required');
    if (!out) throw new UsageError('--out is required');
    const device = flags.device as string | undefined;
    if (device !== undefined && !(DEVICES as readonly string[]).includes(device)) throw new UsageError(`--device must be one of ${DEVICES.join(', ')}, got "${device}"`);
    const dtype = (flags.dtype as string | undefined) ?? 'auto';
    if (dtype !== 'auto' && dtype !== 'float32' && dtype !== 'float16') throw new UsageError(`--dtype must be auto, float32 or float16, got "${dtype}"`);

    const specs = ((flags.lora as string[] | undefined) ?? []).map(parseLoraSpec);

    const pipe = await DiffusionPipeline.load(model, { device, dtype, warm: false, log: (level, m) => io.err(`zipbank render ${level}: ${m}`) });
    const abort = new AbortController();
    const onSigint = () => abort.abort();
    process.once('SIGINT', onSigint);
    try {
      const loras = await readLorasForModel(pipe.model.folder, specs);
      for (const { lora, weight } of loras) {
        io.out(`lora ${lora.file}: ${lora.format}, ${lora.modules.length} modules, weight ${weight}`);
        for (const w of lora.warnings) io.err(`zipbank render warn: ${lora.file}: ${w}`);
      }
      const layers = loras.length ? await pipelineLoraLayers(pipe.model, loras) : undefined;
      const r = await pipe.generate({
        prompt,
        negativePrompt: flags.negative as string | undefined,
        seed: num(flags.seed),
        steps: num(flags.steps),
        guidance: num(flags.guidance),
        width: num(flags.width),
        height: num(flags.height),
        count: num(flags.count),
        scheduler: flags.scheduler as string | undefined,
        png: true,
        ...(layers ? { layers } : {}),
        signal: abort.signal,
        onProgress: (step, total) => io.err(`step ${step}/${total}`),
      });
      io.out(`provider ${r.provider}, ${r.dtype}, ${r.width}x${r.height}, ${r.scheduler}, ${r.steps} steps, guidance ${r.guidance}`);
      io.out(r.seeds.length > 1 ? `seed ${r.seed} (image i uses seed ${r.seed} + i: ${r.seeds.join(', ')})` : `seed ${r.seed}`);
      await mkdir(out, { recursive: true });
      const files = r.seeds.map((s) => join(out, `seed-${s}.png`));
      for (const [i, file] of files.entries()) await writeFile(file, r.png![i]!);
      if (r.images.length > 1) {
        files.push(join(out, 'grid.png'));
        await writeFile(files.at(-1)!, await composeGrid(r.png!));
      }
      for (const f of files) io.out(`wrote ${f}`);
      const t = r.timings;
      io.out(
        `time: ${t.perStepMs.toFixed(1)} ms per step (${t.unetCalls} UNet runs, ${(t.denoiseMs / 1000).toFixed(2)} s), ` +
          `text ${t.encodeMs.toFixed(0)} ms, decode ${t.decodeMs.toFixed(0)} ms, total ${(t.totalMs / 1000).toFixed(2)} s`,
      );
      return 0;
    } finally {
      process.removeListener('SIGINT', onSigint);
      await pipe.dispose();
    }
  },
};

export default command;
