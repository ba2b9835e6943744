/**
 * `zipbank world`: the procedural world that the bundled model is trained on.
 * `sample` renders a grid of seeded scenes and prints their captions; `list` prints
 * the classes, named instances, styles (generic and held-out) and contexts;
 * `previews` writes the reference grids under docs/world/.
 *
 * @example
 *   zipbank world sample --count 16 --seed 1 --style watercolor --out grid.png
 *   // 1  a dog on the beach, watercolor painting
 *   // ...
 *   zipbank world list
 *   zipbank world previews --out docs/world
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs, UsageError } from '../args.ts';
import { dispatch, type CliIO, type Command } from '../command.ts';
import { composeGrid } from '../../engine/image/index.ts';
import { CLASSES, CONTEXTS, INSTANCES, STYLES } from '../../world/catalog.ts';
import { renderScenes, MAX_SIZE, MIN_SIZE } from '../../world/render.ts';
import { captionOf, sampleScene, type Scene, type Split } from '../../world/scene.ts';
import { isHeldOutCombo } from '../../world/split.ts';

const usage = `usage: zipbank world <subcommand> [options]

The procedural world: captioned 64x64 scenes of subjects in contexts and styles.

  world sample --out <grid.png> [--count 16] [--seed 1] [--size 64]
               [--class <id>] [--instance <name>] [--style <name>] [--context <name>]
               [--split base|all] [--token <word>] [--cols <n>]
      Renders --count scenes (seeds seed, seed+1, ...) into one grid image and
      prints each caption. --split base (default) keeps random draws inside the
      base model's training distribution (no held-out styles or instance-only
      looks); options you pass are always honoured. --token puts a rare token in
      the captions of --instance scenes ("a sks dog ...").
  world list
      Prints the classes, named instances, styles (generic / held-out) and contexts.
  world previews --out <folder> [--size 128]
      Writes the reference grids styles.png (every style on one scene; generic
      styles in the first row, held-out ones in the second), classes.png (a column
      per class), contexts.png (a column per context) and instances.png (a column per
      named instance).`;

async function sample(args: string[], io: CliIO): Promise<number> {
  const { flags, positionals } = parseArgs(args, {
    out: { type: 'string' },
    count: { type: 'number' },
    seed: { type: 'number' },
    size: { type: 'number' },
    class: { type: 'string' },
    instance: { type: 'string' },
    style: { type: 'string' },
    context: { type: 'string' },
    split: { type: 'string' },
    token: { type: 'string' },
    cols: { type: 'number' },
  });
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const out = flags.out as string | undefined;
  if (!out) throw new UsageError('--out <grid.png> is required');
  const count = (flags.count as number | undefined) ?? 16;
  if (!Number.isInteger(count) || count < 1 || count > 1024) throw new UsageError('--count must be an integer from 1 to 1024');
  const seed = (flags.seed as number | undefined) ?? 1;
  if (!Number.isSafeInteger(seed)) throw new UsageError('--seed must be an integer');
  const size = (flags.size as number | undefined) ?? 64;
  if (!Number.isInteger(size) || size < MIN_SIZE || size > MAX_SIZE) throw new UsageError(`--size must be an integer from ${MIN_SIZE} to ${MAX_SIZE}`);
  const split = (flags.split as string | undefined) ?? 'base';
  if (split !== 'base' && split !== 'all') throw new UsageError('--split must be base or all');
  const cols = flags.cols as number | undefined;
  if (cols !== undefined && (!Number.isInteger(cols) || cols < 1)) throw new UsageError('--cols must be a positive integer');
  const scenes = Array.from({ length: count }, (_, i) =>
    sampleScene(seed + i, {
      classId: flags.class as string | undefined,
      instanceId: flags.instance as string | undefined,
      styleId: flags.style as string | undefined,
      contextId: flags.context as string | undefined,
      split: split as Split,
    }),
  );
  const images = await renderScenes(scenes, size);
  await writeFile(out, await composeGrid(images, { cols, gap: 2 }));
  const token = flags.token as string | undefined;
  const w = String(seed + count - 1).length;
  for (const s of scenes) {
    const tag = isHeldOutCombo(s.classId, s.contextId, s.styleId) ? '  [held-out combination]' : '';
    io.out(`${String(s.seed).padStart(w)}  ${captionOf(s, s.instanceId ? { instanceToken: token } : {})}${tag}`);
  }
  io.err(`wrote ${out}: ${count} scenes at ${size}x${size}`);
  return 0;
}

async function list(args: string[], io: CliIO): Promise<number> {
  if (args.length) throw new UsageError(`unexpected argument "${args[0]}"`);
  io.out('classes:');
  for (const c of CLASSES) io.out(`  ${c.id.padEnd(8)} variants: ${c.options.variant.join(', ')}`);
  io.out('instances (held out of base training):');
  for (const i of INSTANCES) io.out(`  ${i.name.padEnd(14)} ${i.classId.padEnd(7)} ${i.description}`);
  io.out('styles, generic (the base model learns them):');
  for (const s of STYLES.filter((x) => !x.heldOut)) io.out(`  ${s.name.padEnd(14)} "${s.phrase}": ${s.description}`);
  io.out('styles, held out (only a LoRA teaches them):');
  for (const s of STYLES.filter((x) => x.heldOut)) io.out(`  ${s.name.padEnd(14)} "${s.phrase}": ${s.description}`);
  io.out('contexts:');
  for (const c of CONTEXTS) io.out(`  ${c.name.padEnd(8)} "${c.phrase}": ${c.description}`);
  return 0;
}

async function previews(args: string[], io: CliIO): Promise<number> {
  const { flags, positionals } = parseArgs(args, { out: { type: 'string' }, size: { type: 'number' } });
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const dir = flags.out as string | undefined;
  if (!dir) throw new UsageError('--out <folder> is required');
  const size = (flags.size as number | undefined) ?? 128;
  if (!Number.isInteger(size) || size < MIN_SIZE || size > MAX_SIZE) throw new UsageError(`--size must be an integer from ${MIN_SIZE} to ${MAX_SIZE}`);
  await mkdir(dir, { recursive: true });
  const generic = STYLES.filter((s) => !s.heldOut);
  const grids: { name: string; cols: number; scenes: Scene[] }[] = [
    {
      name: 'styles.png',
      cols: Math.max(generic.length, STYLES.length - generic.length),
      scenes: [...generic, ...STYLES.filter((s) => s.heldOut)].map((s) =>
        sampleScene(5, { classId: 'dog', contextId: 'beach', styleId: s.id, attributes: { variant: 'floppy-ears', body: 'brown', secondary: 'white', marking: 'none', accessory: 'blue-collar' } }),
      ),
    },
    {
      name: 'classes.png',
      cols: CLASSES.length,
      scenes: [11, 12, 13].flatMap((seed) => CLASSES.map((c) => sampleScene(seed, { classId: c.id, styleId: 'flat' }))),
    },
    {
      name: 'contexts.png',
      cols: CONTEXTS.length,
      scenes: [['flat', 21], ['cartoon', 22], ['sketch', 23]].flatMap(([styleId, seed]) =>
        CONTEXTS.map((c) => sampleScene(seed as number, { contextId: c.id, styleId: styleId as string })),
      ),
    },
    {
      name: 'instances.png',
      cols: INSTANCES.length,
      scenes: [['flat', 31], ['photo', 32]].flatMap(([styleId, seed]) =>
        INSTANCES.map((i) => sampleScene(seed as number, { instanceId: i.id, styleId: styleId as string })),
      ),
    },
  ];
  for (const g of grids) {
    const file = join(dir, g.name);
    await writeFile(file, await composeGrid(await renderScenes(g.scenes, size), { cols: g.cols, gap: 2 }));
    io.out(`wrote ${file}`);
  }
  return 0;
}

const command: Command = {
  name: 'world',
  summary: 'render and list the procedural world (subjects, styles, contexts)',
  usage,
  run: dispatch({ sample, list, previews }, (m) => new UsageError(m)),
};

export default command;
