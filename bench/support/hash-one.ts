/** Child process for bench/bank.ts: validate + hash one file, print time and peak RSS as JSON. */
import { readSafetensorsHeader, hashSafetensors } from '../../src/engine/weights/safetensors.ts';

const file = process.argv[2];
const baseline = process.argv[3] === '--baseline';
const rssBefore = process.resourceUsage().maxRSS * 1024;
const t0 = performance.now();
let tensors = 0;
if (!baseline && file) {
  const header = await readSafetensorsHeader(file);
  tensors = header.tensors.length;
  await hashSafetensors(header);
}
const ms = performance.now() - t0;
console.log(JSON.stringify({ ms, tensors, peakRss: process.resourceUsage().maxRSS * 1024, rssBefore }));
