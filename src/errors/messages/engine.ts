/** Messages for the engine: models, graphs, runtime, pipelines (src/engine). */
export const engineMessages = {
  'image.unreadable': (d: { file: string; reason: string }) =>
    `${d.file} is not a readable image (${d.reason}). Send a PNG, JPEG or WebP file.`,
  'image.format': (d: { file: string; format: string }) =>
    `${d.file} is a ${d.format} image; zipbank accepts PNG, JPEG and WebP.`,
  'image.too-large': (d: { file: string; detail: string }) => `${d.file} has an unsupported size: ${d.detail}.`,
  'engine.unsupported-config': (d: { file: string; key: string; value: unknown; supported: string }) =>
    `${d.file}: ${d.key} = ${JSON.stringify(d.value)} is not supported (supported: ${d.supported}).`,
  'scheduler.unknown': (d: { name: string | undefined; known: readonly string[] }) =>
    d.name === undefined
      ? `the scheduler config names no class (_class_name) and none was asked for; choose one of: ${d.known.join(', ')}.`
      : `unknown scheduler "${d.name}"; zipbank knows: ${d.known.join(', ')}.`,
  'scheduler.bad-json': (d: { file: string; reason: string }) =>
    `${d.file} is not valid JSON (${d.reason}). Use the scheduler/scheduler_config.json of a diffusers model folder.`,
  'scheduler.io': (d: { file: string; reason: string }) => `cannot read ${d.file}: ${d.reason}`,
  'scheduler.invalid-config': (d: { file: string; key: string; value: unknown; expected: string }) =>
    `${d.file}: ${d.key} = ${JSON.stringify(d.value)} is invalid: expected ${d.expected}. Fix the scheduler config.`,
  'scheduler.unsupported-option': (d: { scheduler: string; key: string; value: unknown; supported: string }) =>
    `${d.scheduler}: ${d.key} = ${JSON.stringify(d.value)} is not supported (supported: ${d.supported}). Change the scheduler config or pick another scheduler.`,
  'scheduler.invalid-steps': (d: { scheduler: string; steps: unknown; reason: string }) =>
    `${d.scheduler}: ${JSON.stringify(d.steps)} inference steps is invalid: ${d.reason}.`,
  'scheduler.invalid-timesteps': (d: { scheduler: string; reason: string }) =>
    `${d.scheduler}: cannot set these timesteps: ${d.reason}.`,
  'scheduler.not-ready': (d: { scheduler: string }) =>
    `${d.scheduler}: call setTimesteps() before stepping or adding noise.`,
  'scheduler.unknown-timestep': (d: { scheduler: string; timestep: number }) =>
    `${d.scheduler}: timestep ${d.timestep} is not in the schedule. Pass the values of scheduler.timesteps.`,
  'scheduler.size-mismatch': (d: { scheduler: string; what: string; expected: number; actual: number }) =>
    `${d.scheduler}: ${d.what} has ${d.actual} values but the sample has ${d.expected}.`,
  'scheduler.needs-noise': (d: { scheduler: string }) =>
    `${d.scheduler} adds fresh noise at every step: pass a seeded normal generator (rng) or the noise itself.`,
  'scheduler.plms-too-early': (d: { scheduler: string; residuals: number }) =>
    `${d.scheduler}: a PLMS step needs at least 3 earlier residuals from the Runge-Kutta warm-up (it has ${d.residuals}). ` +
    `Run the PRK steps first, or set skip_prk_steps.`,
  'scheduler.invalid-batch': (d: { scheduler: string; length: number; batchSize: number }) =>
    `${d.scheduler}: a sample of ${d.length} values cannot be split into ${d.batchSize} batch items.`,
  'scheduler.invalid-seed': (d: { seed: unknown }) =>
    `seed ${String(d.seed)} is invalid: use an integer from 0 to 2^64 - 1.`,
  'model.invalid-config': (d: { file: string; key: string; value: unknown; expected: string }) =>
    `${d.file}: ${d.key} = ${JSON.stringify(d.value)} is invalid: expected ${d.expected}. Fix the config.json.`,
  'model.inconsistent-config': (d: { file: string; reason: string }) =>
    `${d.file} does not describe a buildable model: ${d.reason}.`,
  'model.missing-file': (d: { folder: string; file: string; reason: string }) =>
    `${d.folder}: cannot read ${d.file} (${d.reason}). A diffusers model folder needs model_index.json and a config.json per component.`,
  'model.unknown-preset': (d: { preset: string; known: readonly string[] }) =>
    `unknown model preset "${d.preset}"; known presets: ${d.known.join(', ')}.`,
  'tokenizer.missing-file': (d: { dir: string; file: string }) =>
    `${d.dir} has no ${d.file}. A CLIP tokenizer folder holds vocab.json and merges.txt (and usually special_tokens_map.json and tokenizer_config.json); ` +
    `in a diffusers model folder it is the tokenizer/ subfolder (SDXL also has tokenizer_2/).`,
  'tokenizer.io': (d: { file: string; reason: string }) => `cannot read ${d.file}: ${d.reason}`,
  'tokenizer.bad-json': (d: { file: string; reason: string }) =>
    `${d.file} is not valid JSON (${d.reason}). Download the tokenizer files again.`,
  'tokenizer.bad-vocab': (d: { file: string; reason: string }) =>
    `${d.file} is not a CLIP BPE vocabulary: ${d.reason}. Use the vocab.json shipped with the model's tokenizer folder.`,
  'tokenizer.bad-merges': (d: { file: string; line: number; reason: string }) =>
    `${d.file}, line ${d.line}: ${d.reason}. merges.txt must hold one "left right" pair per line, matching vocab.json.`,
  'tokenizer.unknown-special-token': (d: { dir: string; role: string; token: string }) =>
    `${d.dir}: the ${d.role} token ${JSON.stringify(d.token)} is not in vocab.json. Check special_tokens_map.json and tokenizer_config.json.`,
  'tokenizer.invalid-max-length': (d: { maxLength: unknown }) =>
    `max length ${JSON.stringify(d.maxLength)} is invalid: it must be an integer of at least 2 (room for the start and end tokens).`,
  'tokenizer.unknown-id': (d: { id: number; vocabSize: number }) =>
    `token id ${d.id} is not in the vocabulary (ids run from 0 to ${d.vocabSize - 1}).`,
};
