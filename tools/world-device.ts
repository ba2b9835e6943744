/**
 * node bin/run-ts.js tools/world-device.ts pack [--model models/world] [--images 24000] DEST
 * node bin/run-ts.js tools/world-device.ts merge [--model models/world] [--rows transport.json] RETURNED
 *
 * The world model to a GPU machine and back (src/world/device.ts, bench/gpu-train.sh).
 */
import { parseArgs } from '../src/cli/args.ts';
import { mergeWorldModel, packWorldModel } from '../src/world/device.ts';

const { flags, positionals } = parseArgs(process.argv.slice(2), { model: { type: 'string' }, images: { type: 'number' }, rows: { type: 'string' } });
const [cmd, target] = positionals;
const model = String(flags.model ?? 'models/world');
if (cmd === 'pack' && target) {
  const rows = await packWorldModel(model, target, typeof flags.images === 'number' ? flags.images : 24000);
  console.log(`packed ${model} into ${target}: float16 UNet and VAE, ${rows.length} token-embedding rows`);
} else if (cmd === 'merge' && target) {
  const parts = await mergeWorldModel(model, target, typeof flags.rows === 'string' ? flags.rows : undefined);
  console.log(`merged ${parts.join(', ') || 'nothing'} from ${target} into ${model}; run \`npm run train:world -- --out ${model} --check-quality\` for new quality numbers`);
} else {
  console.error('usage: tools/world-device.ts pack [--model DIR] [--images N] DEST | merge [--model DIR] [--rows transport.json] RETURNED');
  process.exit(2);
}
