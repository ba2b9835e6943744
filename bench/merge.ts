/**
 * npm run bench:merge (CPU; printed, not asserted)
 *
 * The ZipLoRA paper's comparison on the world (src/world/compare.ts): for subject x
 * style pairs of the seeded bank, the direct merge (w = 1), ZipLoRA and each LoRA
 * alone render the same prompts and seeds (one prompt without a context, three
 * re-contextualisation prompts); the world's classifier judges subject (instance),
 * style and context (text) fidelity. Also ZipLoRA's retention of each concept, the
 * style-strength sweep w_s, and per-pair zip time and peak memory.
 *
 * Writes docs/merge/report.json, docs/merge/table.md and docs/merge/grid.png (one
 * sample per pair: direct, ZipLoRA, subject only, style only).
 *
 * Environment: BENCH_MODEL (default models/world), BENCH_SEEDS (default
 * <model>/loras), BENCH_PAIRS (default 16), BENCH_SAMPLES (images per prompt and
 * method, default 4), BENCH_ZIP_STEPS (default 100), BENCH_ZIP_LR (default 0.01), BENCH_SWEEP_PAIRS (default 4),
 * BENCH_OUT (default docs/merge).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { ortVersion } from '../src/engine/runtime/index.ts';
import { compareMerges, METHODS, type Rate } from '../src/world/compare.ts';

const env = (k: string, d: number) => (process.env[k] ? Number(process.env[k]) : d);
const MODEL = process.env.BENCH_MODEL ?? 'models/world';
const SEEDS = process.env.BENCH_SEEDS ?? join(MODEL, 'loras');
const OUT = process.env.BENCH_OUT ?? 'docs/merge';
await mkdir(OUT, { recursive: true });

console.log(`bench:merge — ${cpus().length} cores (${cpus()[0]?.model}), onnxruntime ${ortVersion}, model ${MODEL}, LoRAs ${SEEDS}`);
const t0 = performance.now();
const r = await compareMerges({
  model: MODEL,
  seeds: SEEDS,
  pairs: env('BENCH_PAIRS', 16),
  samples: env('BENCH_SAMPLES', 4),
  zipSteps: env('BENCH_ZIP_STEPS', 100),
  ...(process.env.BENCH_ZIP_LR ? { zipLearningRate: Number(process.env.BENCH_ZIP_LR) } : {}),
  sweepPairs: env('BENCH_SWEEP_PAIRS', 4),
  gridPath: join(OUT, 'grid.png'),
  log: (l) => console.log(`[${((performance.now() - t0) / 60000).toFixed(1)} min] ${l}`),
});

const pct = (x: Rate) => (Number.isNaN(x.rate) ? 'n/a' : `${(x.rate * 100).toFixed(1)}% [${(x.low * 100).toFixed(0)}-${(x.high * 100).toFixed(0)}]`);
const signed = (x: Rate) => (Number.isNaN(x.rate) ? 'n/a' : `${x.rate >= 0 ? '+' : ''}${(x.rate * 100).toFixed(1)} pts [${(x.low * 100).toFixed(1)}, ${(x.high * 100).toFixed(1)}]`);
const s = r.settings;
const lines: string[] = [];
lines.push(`# Merge comparison on the world (npm run bench:merge)`);
lines.push('');
lines.push(`${s.pairs} subject x style pairs, ${s.samples} images per prompt and method, prompts: ${s.prompts.map((p) => `"${p}"`).join(', ')}; ${s.steps} steps ${s.scheduler}, guidance ${s.guidance}; ZipLoRA ${s.zipSteps} steps. Judged by the world's classifier; rates with Wilson 95% intervals.`);
lines.push('');
lines.push('| method | subject fidelity | style fidelity | text (context) fidelity |');
lines.push('|---|---|---|---|');
for (const m of METHODS) lines.push(`| ${m} | ${pct(r.methods[m].subject)} | ${pct(r.methods[m].style)} | ${pct(r.methods[m].context)} |`);
lines.push(`| **ZipLoRA - direct** (paired bootstrap 95%) | ${signed(r.difference.subject)} | ${signed(r.difference.style)} | ${signed(r.difference.context)} |`);
lines.push('');
lines.push('Retention (one concept\'s prompt with the merged LoRA):');
lines.push('');
lines.push('| prompt | ZipLoRA | direct | the LoRA alone |');
lines.push('|---|---|---|---|');
lines.push(`| subject only ("a <subject> on the beach, soft photo"): subject fidelity | ${pct(r.retention.subjectPrompt.ziplora)} | ${pct(r.retention.subjectPrompt.direct)} | ${pct(r.retention.subjectPrompt['subject-only'])} |`);
lines.push(`| style only ("a house in the forest, <style>"): style fidelity | ${pct(r.retention.stylePrompt.ziplora)} | ${pct(r.retention.stylePrompt.direct)} | ${pct(r.retention.stylePrompt['style-only'])} |`);
lines.push('');
lines.push('Style strength sweep (ZipLoRA, style LoRA weight w_s, re-contextualisation prompts):');
lines.push('');
lines.push('| w_s | subject | style | context |');
lines.push('|---|---|---|---|');
for (const w of r.sweep) lines.push(`| ${w.styleWeight} | ${pct(w.subject)} | ${pct(w.style)} | ${pct(w.context)} |`);
lines.push('');
lines.push('Per pair (zip time, peak process RSS during the zip, mean |cos| before -> after, max |m-1| subject/style):');
lines.push('');
lines.push('| pair | zip s | peak RSS GiB | cos | max move | direct S/Y/T | ZipLoRA S/Y/T |');
lines.push('|---|---|---|---|---|---|---|');
const f = (k: number, n: number) => `${Math.round((100 * k) / Math.max(1, n))}`;
for (const p of r.pairs) {
  const d = p.scores.direct;
  const z = p.scores.ziplora;
  lines.push(
    `| ${p.subject} x ${p.style} | ${p.zipSeconds.toFixed(1)} | ${p.peakRssGiB.toFixed(2)} | ${p.cosineBefore.toFixed(2)} -> ${p.cosineAfter.toFixed(2)} | ${p.maxMove.map((x) => x.toFixed(2)).join('/')}${p.stuck ? ' STUCK' : ''} | ${f(d.subject, d.n)}/${f(d.style, d.n)}/${f(d.context, d.nContext)} | ${f(z.subject, z.n)}/${f(z.style, z.n)}/${f(z.context, z.nContext)} |`,
  );
}
const zs = r.pairs.map((p) => p.zipSeconds).sort((a, b) => a - b);
lines.push('');
lines.push(`Zip time per pair: median ${(zs[Math.floor(zs.length / 2)] ?? NaN).toFixed(1)} s, max ${(zs.at(-1) ?? NaN).toFixed(1)} s; peak RSS max ${Math.max(...r.pairs.map((p) => p.peakRssGiB)).toFixed(2)} GiB. Total ${(r.seconds / 60).toFixed(1)} min.`);
const table = lines.join('\n');
console.log(`\n${table}`);
await writeFile(join(OUT, 'table.md'), `${table}\n`);
await writeFile(join(OUT, 'report.json'), `${JSON.stringify(r, null, 2)}\n`);
console.log(`\nwrote ${OUT}/table.md, report.json, grid.png`);
